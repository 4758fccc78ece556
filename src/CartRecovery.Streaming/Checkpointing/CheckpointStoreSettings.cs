using Akka.Configuration;
using Akka.Persistence.Sql;

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

    /// <summary>Akka.Persistence.Sql has no Hosting package in this registry, so its plugin is configured with HOCON.</summary>
    public Config ToAkkaConfig()
    {
        var provider = Provider == CheckpointProvider.Sqlite ? "SQLite.MS" : "PostgreSQL.15";
        var connection = ConnectionString.Replace("\\", "\\\\").Replace("\"", "\\\"");
        var hocon = $$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql { connection-string = "{{connection}}", provider-name = "{{provider}}", auto-initialize = true }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql { connection-string = "{{connection}}", provider-name = "{{provider}}", auto-initialize = true }
              }
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(SqlPersistence.DefaultConfiguration);
    }
}
