using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using CartRecovery.Storage.Server;

namespace CartRecovery.Host;

/// <summary>The embedded chDB store under --data by default; a ClickHouse server when ClickHouse:Url is configured
/// (CARTRECOVERY_ClickHouse__Url, appsettings.json; the older CARTRECOVERY_CLICKHOUSE_URL still works).</summary>
public static class AnalyticsStoreFactory
{
    /// <summary>ClickHouse.Driver connection string (host, port, protocol=https for TLS, username, password).</summary>
    public const string ServerUrlVariable = "CARTRECOVERY_CLICKHOUSE_URL";

    /// <summary>The live store (database <c>default</c>) with the retention per table of Retention:Tables.</summary>
    public static AnalyticsStoreOptions LiveOptions =>
        AnalyticsStoreOptions.Default with { Schema = SchemaRetention.Parse(HostConfiguration.Current.Retention, SchemaOptions.Default) };

    /// <summary>The live store, opened to read, report or erase: its retention is the worker's to set, never changed here.</summary>
    public static IAnalyticsStore Open(string dataDirectory) => Open(dataDirectory, LiveOptions);

    /// <summary>Opens the store writing to and reading from <see cref="AnalyticsStoreOptions.Database"/> (e.g. a replay's own database).</summary>
    public static IAnalyticsStore Open(string dataDirectory, AnalyticsStoreOptions options)
    {
        if (HostConfiguration.Current.ClickHouse is { } server)
        {
            // The configured database is the live one; a replay or backtest names its own.
            if (server.Database is { } database && options.Database == AnalyticsStoreOptions.DefaultDatabase) options = options with { Database = database };
            return new ClickHouseServerStore(server, options);
        }
        return new ChDbAnalyticsStore(EmbeddedClickHouse.Open(Path.Combine(Path.GetFullPath(dataDirectory), "clickhouse")), options);
    }
}
