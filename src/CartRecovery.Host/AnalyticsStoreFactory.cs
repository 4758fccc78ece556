using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using CartRecovery.Storage.Server;

namespace CartRecovery.Host;

/// <summary>The embedded chDB store under --data by default; a ClickHouse server when CARTRECOVERY_CLICKHOUSE_URL is set.</summary>
public static class AnalyticsStoreFactory
{
    /// <summary>ClickHouse.Driver connection string (host, port, protocol=https for TLS, username, password).</summary>
    public const string ServerUrlVariable = "CARTRECOVERY_CLICKHOUSE_URL";

    /// <summary>The live store (database <c>default</c>) with the retention per table of <see cref="SchemaRetention.Variable"/>.</summary>
    public static IAnalyticsStore Open(string dataDirectory) =>
        Open(dataDirectory, AnalyticsStoreOptions.Default with { Schema = SchemaRetention.Parse(Environment.GetEnvironmentVariable(SchemaRetention.Variable), SchemaOptions.Default) });

    /// <summary>Opens the store writing to and reading from <see cref="AnalyticsStoreOptions.Database"/> (e.g. a replay's own database).</summary>
    public static IAnalyticsStore Open(string dataDirectory, AnalyticsStoreOptions options)
    {
        var url = Environment.GetEnvironmentVariable(ServerUrlVariable);
        if (!string.IsNullOrWhiteSpace(url)) return new ClickHouseServerStore(new ClickHouseServerSettings(url), options);
        return new ChDbAnalyticsStore(EmbeddedClickHouse.Open(Path.Combine(Path.GetFullPath(dataDirectory), "clickhouse")), options);
    }
}
