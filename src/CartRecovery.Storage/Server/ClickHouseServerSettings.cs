using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
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

    /// <summary>Overrides the user of the URL or connection string (configuration <c>ClickHouse:Username</c>).</summary>
    public string? Username { get; init; }

    /// <summary>Overrides the password of the URL or connection string: from a Secret, never the command line.</summary>
    public string? Password { get; init; }

    /// <summary>The database the live worker writes to and analysts read (replays and backtests keep their own).</summary>
    public string? Database { get; init; }

    /// <summary>PEM file of the CA that signed the server's certificate (a private CA); the system store otherwise.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>PEM client certificate and key for mutual TLS.</summary>
    public string? ClientCertificateFile { get; init; }

    public string? ClientKeyFile { get; init; }

    /// <summary>The driver settings for <see cref="ConnectionString"/> (a connection string or an HTTP(S) URL), with
    /// <see cref="Username"/>, <see cref="Password"/> and the TLS files applied over it.</summary>
    public ClickHouseClientSettings ToClientSettings()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ConnectionString);
        var text = ConnectionString.Trim();
        var httpClient = CaCertificateFile is not null || ClientCertificateFile is not null ? new HttpClient(TlsHandler()) : null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            var builder = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = text };
            if (Username is { Length: > 0 }) builder["Username"] = Username;
            if (Password is not null) builder["Password"] = Password;
            return httpClient is null ? new ClickHouseClientSettings(builder.ConnectionString) : new ClickHouseClientSettings(builder.ConnectionString) { HttpClient = httpClient };
        }

        var query = HttpUtility.ParseQueryString(uri.Query);
        var userInfo = uri.UserInfo.Split(':', 2);
        var username = Username is { Length: > 0 } configured ? configured
            : query["user"] is { Length: > 0 } user ? user
            : userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : "default";
        var password = Password ?? query["password"] ?? (userInfo.Length == 2 ? Uri.UnescapeDataString(userInfo[1]) : "");
        return new ClickHouseClientSettings
        {
            Protocol = uri.Scheme,
            Host = uri.Host,
            Port = (ushort)uri.Port,
            Username = username,
            Password = password,
            Path = uri.AbsolutePath.Length > 1 ? uri.AbsolutePath : null,
            HttpClient = httpClient,
        };
    }

    /// <summary>TLS with a private CA and/or a client certificate: the handler validates the server's chain against
    /// the CA alone (not the system store) and presents the client certificate.</summary>
    private SocketsHttpHandler TlsHandler()
    {
        var ssl = new SslClientAuthenticationOptions();
        if (CaCertificateFile is not null)
        {
            var trust = new X509Certificate2Collection();
            trust.ImportFromPemFile(CaCertificateFile);
            ssl.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            ssl.CertificateChainPolicy.CustomTrustStore.AddRange(trust);
        }
        if (ClientCertificateFile is not null)
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(ClientCertificateFile, ClientKeyFile)];
        return new SocketsHttpHandler { SslOptions = ssl, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
    }

    /// <summary>Never prints the connection string: it may hold a password.</summary>
    public override string ToString() => "ClickHouseServerSettings { ConnectionString = ***, Password = *** }";
}
