using System.Web;
using ClickHouse.Driver.ADO;

namespace CartRecovery.Storage.Server;

/// <summary>
/// Where the ClickHouse server is: a ClickHouse.Driver connection string
/// (<c>Host=ch.internal;Port=8443;Protocol=https;Username=cartrecovery;Password=...</c>) or an
/// HTTP(S) URL (<c>https://cartrecovery:secret@ch.internal:8443/</c>). The store's tables live
/// in the database of the store's <see cref="AnalyticsStoreOptions"/>.
/// </summary>
public sealed record ClickHouseServerSettings(string ConnectionString)
{
    /// <summary>Rows per INSERT statement.</summary>
    public int RowsPerInsert { get; init; } = 50_000;

    /// <summary>Attempts per operation when the failure is transient (connection refused, timeouts, 429/502-504, server overload codes).</summary>
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The driver settings for <see cref="ConnectionString"/> (a connection string or an HTTP(S) URL).</summary>
    public ClickHouseClientSettings ToClientSettings()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ConnectionString);
        var text = ConnectionString.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return new ClickHouseClientSettings(text);

        var query = HttpUtility.ParseQueryString(uri.Query);
        var userInfo = uri.UserInfo.Split(':', 2);
        var username = query["user"] is { Length: > 0 } user ? user
            : userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : "default";
        var password = query["password"] ?? (userInfo.Length == 2 ? Uri.UnescapeDataString(userInfo[1]) : "");
        return new ClickHouseClientSettings
        {
            Protocol = uri.Scheme,
            Host = uri.Host,
            Port = (ushort)uri.Port,
            Username = username,
            Password = password,
            Path = uri.AbsolutePath.Length > 1 ? uri.AbsolutePath : null,
        };
    }

    /// <summary>Never prints the connection string: it may hold a password.</summary>
    public override string ToString() => "ClickHouseServerSettings { ConnectionString = *** }";
}
