using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Server;

namespace CartRecovery.Host;

/// <summary>The embedded chDB store under --data by default; a ClickHouse server when CARTRECOVERY_CLICKHOUSE_URL is set.</summary>
public static class AnalyticsStoreFactory
{
    public const string ServerUrlVariable = "CARTRECOVERY_CLICKHOUSE_URL";

    public static IAnalyticsStore Open(string dataDirectory)
    {
        var url = Environment.GetEnvironmentVariable(ServerUrlVariable);
        if (!string.IsNullOrWhiteSpace(url)) return new ClickHouseServerStore(new ClickHouseServerSettings(url));
        return new ChDbAnalyticsStore(EmbeddedClickHouse.Open(Path.Combine(Path.GetFullPath(dataDirectory), "clickhouse")));
    }
}
