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

    /// <summary>The same options as HOCON, for an actor system built without Akka.Hosting (the actor specs' TestKit):
    /// one definition of the store's settings either way.</summary>
    public Config ToAkkaConfig()
    {
        var journal = JournalOptions();
        var snapshots = SnapshotOptions();
        return journal.ToConfig().WithFallback(snapshots.ToConfig()).WithFallback(journal.DefaultConfig).WithFallback(snapshots.DefaultConfig);
    }
}
