using System.Data.Common;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CartRecovery.Storage.Embedded;
using CartRecovery.Storage.Schema;
using ClickHouse.Driver;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CartRecovery.Storage.Server;

/// <summary>
/// The analytics store on a ClickHouse server, through ClickHouse.Driver (the official .NET client, successor of
/// ClickHouse.Client) over the HTTP interface: the same DDL (<see cref="AnalyticsSchema"/>), the same JSONEachRow
/// rows and the same SQL as the embedded engine.
/// </summary>
/// <remarks>
/// <para>Inserts stream the rows as the body of <c>INSERT INTO db.table FORMAT JSONEachRow</c> (gzip), with
/// <see cref="AnalyticsSchema.InsertSettingValues"/> and an <c>insert_deduplication_token</c> (hash of the body) as
/// query settings, in statements of at most <see cref="ClickHouseServerSettings.RowsPerInsert"/> rows. Queries run
/// with the HTTP interface's <c>default_format</c> set to the requested format (a FORMAT clause in the SQL wins)
/// and return the response body as text.</para>
/// <para>Transient failures (connection refused or reset, timeouts, HTTP 429/502/503/504, server overload codes) are
/// retried with exponential backoff and jitter, up to <see cref="ClickHouseServerSettings.MaxAttempts"/>; a retried
/// insert that had in fact landed is absorbed by the ReplacingMergeTree tables (and by the dedup token on
/// replicated ones). Errors the server reports for the statement itself become
/// <see cref="ClickHouseQueryException"/>; anything else still failing after the retries propagates as it is.</para>
/// <para>The server must be one ClickHouse.Driver supports (the last three releases and the last two LTS).</para>
/// </remarks>
public sealed class ClickHouseServerStore : IAnalyticsStore
{
    // ClickHouse error codes worth another attempt: timeouts, network, too many parts/queries, memory limits, ...
    private static readonly HashSet<int> TransientServerCodes = [159, 164, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999];

    private readonly ClickHouseClient _client;
    private readonly ClickHouseServerSettings _settings;
    private readonly AnalyticsStoreOptions _options;
    private readonly ILogger _logger;

    public ClickHouseServerStore(ClickHouseServerSettings settings) : this(settings, AnalyticsStoreOptions.Default) { }

    public ClickHouseServerStore(ClickHouseServerSettings settings, AnalyticsStoreOptions options, ILogger<ClickHouseServerStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        _settings = settings;
        _options = options;
        Database = options.ValidatedDatabase();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _client = new ClickHouseClient(settings.ToClientSettings());
    }

    /// <summary>The database holding the tables.</summary>
    public string Database { get; }

    public async Task EnsureSchemaAsync(CancellationToken ct)
    {
        var createDatabase = AnalyticsSchema.CreateDatabaseStatement(Database);
        await RetryAsync("create database", createDatabase,
            token => _client.ExecuteNonQueryAsync(createDatabase, parameters: null, Options(EmbeddedClickHouse.DefaultDatabase), token), ct).ConfigureAwait(false);
        foreach (var statement in AnalyticsSchema.StatementsFor(_options.Schema))
            await RetryAsync("schema", statement,
                token => _client.ExecuteNonQueryAsync(statement, parameters: null, Options(Database), token), ct).ConfigureAwait(false);
        if (_options.SetsRetention) await SchemaRetention.ApplyAsync(this, _options.Schema, ct).ConfigureAwait(false);
    }

    public async Task InsertJsonEachRowAsync(string table, ReadOnlyMemory<byte> jsonEachRow, CancellationToken ct)
    {
        EmbeddedClickHouse.ValidateIdentifier(table, nameof(table));
        var target = $"`{Database}`.`{table}`";
        // What an error quotes: the INSERT line only, never the rows (ClickHouseQueryException.Head).
        var statementHead = $"INSERT INTO {target} FORMAT JSONEachRow";
        var rowsPerInsert = Math.Max(1, _settings.RowsPerInsert);
        for (var start = 0; start < jsonEachRow.Length;)
        {
            var end = start;
            for (var count = 0; end < jsonEachRow.Length && count < rowsPerInsert; count++)
            {
                var newline = jsonEachRow.Span[end..].IndexOf((byte)'\n');
                end = newline < 0 ? jsonEachRow.Length : end + newline + 1;
            }
            // The body is the caller's bytes as they are: no string, no second encoding.
            var body = jsonEachRow[start..end];
            var bytes = MemoryMarshal.TryGetArray(body, out var segment) ? segment : new ArraySegment<byte>(body.ToArray());
            var settings = new Dictionary<string, object>(AnalyticsSchema.InsertSettingValues)
            {
                // Same rows, same token: a replicated table drops a repeated block (the others absorb it at merge time).
                ["insert_deduplication_token"] = $"{table}-{Convert.ToHexString(SHA256.HashData(body.Span))[..32]}",
            };
            await RetryAsync($"insert {table}", statementHead, async token =>
            {
                using var stream = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
                using var response = await _client.InsertRawStreamAsync(target, stream, "JSONEachRow", columns: null,
                    useCompression: true, Options(Database, settings), token).ConfigureAwait(false);
                return 0;
            }, ct).ConfigureAwait(false);
            start = end;
        }
    }

    public async Task<string> QueryAsync(string sql, string format, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sql);
        EmbeddedClickHouse.ValidateIdentifier(format, nameof(format));
        if (_options.ReadOnly) ReadOnlySql.Check(sql, Database);
        try
        {
            return await RetryAsync("query", sql, async token =>
            {
                using var result = await _client.ExecuteRawResultAsync(sql,
                    Options(Database, QuerySettings(format)), token).ConfigureAwait(false);
                return await result.ReadAsStringAsync().ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
        }
        catch (ClickHouseQueryException e) when (_options.ReadOnly)
        {
            throw _options.Limits.Explain(e);
        }
    }

    /// <summary>On the analyst path the server itself refuses writes and bounds the query: readonly = 2 forbids INSERT, ALTER,
    /// DDL and a change of readonly, but lets the driver send its per-query settings (readonly = 1 would refuse those
    /// too), which carry the analyst limits. That the query cannot raise them again (readonly = 2 would let it) is the
    /// analyst user's settings profile's job: its constraints and grants are in docs/analytics.md.</summary>
    private Dictionary<string, object> QuerySettings(string format)
    {
        var settings = new Dictionary<string, object> { ["default_format"] = format };
        if (!_options.ReadOnly) return settings;
        settings["readonly"] = 2;
        foreach (var (name, value) in _options.Limits.Validated().Settings())
            settings[name] = value.Trim('\'');
        return settings;
    }

    private static QueryOptions Options(string database, IDictionary<string, object>? settings = null) =>
        new() { Database = database, CustomSettings = settings ?? new Dictionary<string, object>() };

    private async Task<T> RetryAsync<T>(string operation, string sql, Func<CancellationToken, Task<T>> action, CancellationToken ct)
    {
        var backoff = _settings.InitialBackoff;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < _settings.MaxAttempts && IsTransient(e, ct))
            {
                _logger.LogWarning("ClickHouse {Operation} failed transiently ({Error}), attempt {Attempt} of {MaxAttempts}; retrying in {Delay} ms",
                    operation, e.GetType().Name, attempt, _settings.MaxAttempts, (int)backoff.TotalMilliseconds);
                var jitter = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * backoff.TotalMilliseconds * 0.2);
                await Task.Delay(backoff + jitter, ct).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _settings.MaxBackoff.Ticks));
            }
            catch (ClickHouseServerException e)
            {
                throw new ClickHouseQueryException(e.Message, sql, e, e.ErrorCode != 0 ? e.ErrorCode : null);
            }
        }
    }

    /// <summary>Whether another attempt may succeed: network and timeout failures, overload statuses and codes; not cancellation by the caller.</summary>
    public static bool IsTransient(Exception e, CancellationToken ct) => e switch
    {
        OperationCanceledException => !ct.IsCancellationRequested && e is TaskCanceledException, // an HTTP timeout
        TimeoutException => true,
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: { } status } => IsTransientStatus(status),
        SocketException or IOException => true,
        ClickHouseServerException server => TransientServerCodes.Contains(server.ErrorCode) || IsTransientStatus((HttpStatusCode)server.ErrorCode),
        DbException { InnerException: { } inner } => IsTransient(inner, ct),
        _ => false,
    };

    private static bool IsTransientStatus(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
