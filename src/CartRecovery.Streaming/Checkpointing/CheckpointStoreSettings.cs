using Akka.Configuration;
using Akka.Persistence.Sql.Hosting;

namespace CartRecovery.Streaming.Checkpointing;

public enum CheckpointProvider { Sqlite, PostgreSql }

/// <summary>
/// Where partition checkpoints live (Akka.Persistence.Sql snapshot store): a SQLite file on one machine (the
/// embedded default; several worker processes on the machine can share the file), PostgreSQL when pods share
/// state across machines.
/// </summary>
public sealed record CheckpointStoreSettings(CheckpointProvider Provider, string ConnectionString)
{
    public static CheckpointStoreSettings Sqlite(string path) =>
        new(CheckpointProvider.Sqlite, $"Data Source={Path.GetFullPath(path)};Pooling=True;Default Timeout=60");

    public static CheckpointStoreSettings PostgreSql(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ArgumentException("Worker:Checkpoints:PostgreSql: the connection string is empty");
        return new(CheckpointProvider.PostgreSql, connectionString);
    }

    /// <summary>The linq2db provider Akka.Persistence.Sql talks to the store with.</summary>
    public string ProviderName => Provider == CheckpointProvider.Sqlite ? "SQLite.MS" : "PostgreSQL.15";

    /// <summary>The journal (incremental checkpoints: sessions changed since the last snapshot) as Akka.Hosting options.</summary>
    public SqlJournalOptions JournalOptions() => new(isDefaultPlugin: true)
    {
        ConnectionString = ConnectionString, ProviderName = ProviderName, AutoInitialize = true,
    };

    /// <summary>The snapshot store (periodic full checkpoints) as Akka.Hosting options.</summary>
    public SqlSnapshotOptions SnapshotOptions() => new(isDefaultPlugin: true)
    {
        ConnectionString = ConnectionString, ProviderName = ProviderName, AutoInitialize = true,
    };

    /// <summary>
    /// How long a partition's recovery may wait for its snapshot and for each journaled delta, and a store call for
    /// its answer. Akka's defaults (30 s per step, circuit breakers at 10 s and 20 s) assume an idle store; on a
    /// loaded machine (a CI host running several test processes on two cores, or a worker sharing a PostgreSQL server
    /// with its peers at a rebalance) a multi-megabyte snapshot read has taken longer ("Recovery timed out, didn't get
    /// snapshot within 30s"), and the partition then failed instead of restoring. A slow restore only delays the
    /// partition; a failed one stops the worker, so the limits are generous: they catch a store that is gone, not slow.
    /// </summary>
    public Config RecoveryTimeouts()
    {
        var journal = JournalOptions().PluginId;
        var snapshots = SnapshotOptions().PluginId;
        return ConfigurationFactory.ParseString($$"""
            {{journal}} {
              recovery-event-timeout = 180s
              circuit-breaker { call-timeout = 120s, reset-timeout = 30s }
            }
            {{snapshots}}.circuit-breaker { call-timeout = 120s, reset-timeout = 30s }
            """);
    }

    /// <summary>The same options as HOCON, for an actor system built without Akka.Hosting (the actor specs' TestKit):
    /// one definition of the store's settings either way.</summary>
    public Config ToAkkaConfig()
    {
        var journal = JournalOptions();
        var snapshots = SnapshotOptions();
        return RecoveryTimeouts().WithFallback(journal.ToConfig()).WithFallback(snapshots.ToConfig()).WithFallback(journal.DefaultConfig).WithFallback(snapshots.DefaultConfig);
    }
}
