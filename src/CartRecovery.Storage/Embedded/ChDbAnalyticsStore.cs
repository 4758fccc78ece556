using System.Buffers;
using System.Text;
using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage.Embedded;

/// <summary>
/// The analytics store on the embedded chDB engine: the default of a one-machine run and the engine the tests
/// run the real ClickHouse SQL on. Engine calls are synchronous and serialized per process (see
/// <see cref="EmbeddedClickHouse"/>); the async methods run them on the thread pool so callers on an event loop or
/// an actor dispatcher are not blocked.
/// </summary>
public sealed class ChDbAnalyticsStore : IAnalyticsStore
{
    /// <summary>At most this many rows per INSERT statement: large parts, bounded statement size.</summary>
    public const int RowsPerStatement = 50_000;

    /// <summary>At most this many bytes of row data per INSERT statement (a statement holds at least one row).</summary>
    public const int BytesPerStatement = 64 * 1024 * 1024;

    private readonly EmbeddedClickHouse _engine;
    private readonly AnalyticsStoreOptions _options;
    private readonly bool _ownsEngine;

    /// <summary>The store on <paramref name="engine"/> in database <c>default</c>; disposes the engine with the store.</summary>
    public ChDbAnalyticsStore(EmbeddedClickHouse engine) : this(engine, AnalyticsStoreOptions.Default) { }

    /// <param name="engine">The engine (one per process and data directory).</param>
    /// <param name="options">Database (created by <see cref="EnsureSchemaAsync"/>; queries resolve unqualified names to it) and schema parameters.</param>
    /// <param name="ownsEngine">Dispose the engine with the store; false when several stores (databases) share one engine.</param>
    public ChDbAnalyticsStore(EmbeddedClickHouse engine, AnalyticsStoreOptions options, bool ownsEngine = true)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        _engine = engine;
        _options = options;
        Database = options.ValidatedDatabase();
        _ownsEngine = ownsEngine;
    }

    public string Database { get; }

    public EmbeddedClickHouse Engine => _engine;

    /// <summary>Rows per statement; lowered by tests to exercise the split.</summary>
    internal int MaxRowsPerStatement { get; init; } = RowsPerStatement;

    public async Task EnsureSchemaAsync(CancellationToken ct)
    {
        await Task.Run(() =>
        {
            _engine.Query(AnalyticsSchema.CreateDatabaseStatement(Database), EmbeddedClickHouse.DefaultFormat, EmbeddedClickHouse.DefaultDatabase);
            foreach (var statement in AnalyticsSchema.StatementsFor(_options.Schema))
            {
                ct.ThrowIfCancellationRequested();
                _engine.Query(statement, EmbeddedClickHouse.DefaultFormat, Database);
            }
        }, ct);
        if (_options.SetsRetention) await SchemaRetention.ApplyAsync(this, _options.Schema, ct);
    }

    public Task InsertJsonEachRowAsync(string table, ReadOnlyMemory<byte> jsonEachRow, CancellationToken ct)
    {
        EmbeddedClickHouse.ValidateIdentifier(table, nameof(table));
        if (jsonEachRow.IsEmpty) return Task.CompletedTask;
        return Task.Run(() => Insert(table, jsonEachRow.Span, ct), ct);
    }

    /// <summary>The statement is the INSERT line followed by the rows' bytes as they are (copied once into a pooled
    /// statement buffer, never re-encoded), cut at line ends into statements of at most <see cref="MaxRowsPerStatement"/>
    /// rows and <see cref="BytesPerStatement"/> bytes.</summary>
    private void Insert(string table, ReadOnlySpan<byte> rows, CancellationToken ct)
    {
        var prefix = Encoding.UTF8.GetBytes(
            $"INSERT INTO `{Database}`.`{table}` SETTINGS {AnalyticsSchema.InsertSettings} FORMAT JSONEachRow\n");
        var buffer = Array.Empty<byte>();
        try
        {
            for (var start = 0; start < rows.Length;)
            {
                ct.ThrowIfCancellationRequested();
                var end = start;
                for (var count = 0; end < rows.Length && count < MaxRowsPerStatement; count++)
                {
                    var newline = rows[end..].IndexOf((byte)'\n');
                    var next = newline < 0 ? rows.Length : end + newline + 1;
                    if (count > 0 && next - start > BytesPerStatement) break;
                    end = next;
                }

                var data = rows[start..end];
                var size = prefix.Length + data.Length + 1; // + a line end the last row may lack
                if (buffer.Length < size)
                {
                    if (buffer.Length > 0) JsonEachRowBuffer.Pool.Return(buffer);
                    buffer = JsonEachRowBuffer.Pool.Rent(size);
                }
                prefix.CopyTo(buffer, 0);
                data.CopyTo(buffer.AsSpan(prefix.Length));
                var at = prefix.Length + data.Length;
                if (data[^1] != (byte)'\n') buffer[at++] = (byte)'\n';

                _engine.Execute(buffer.AsSpan(0, at), EmbeddedClickHouse.DefaultFormat, Database);
                start = end;
            }
        }
        finally
        {
            if (buffer.Length > 0) JsonEachRowBuffer.Pool.Return(buffer);
        }
    }

    public Task<string> QueryAsync(string sql, string format, CancellationToken ct)
    {
        if (!_options.ReadOnly) return Task.Run(() => _engine.Query(sql, format, Database), ct);
        ReadOnlySql.Check(sql, Database);
        return Task.Run(() =>
        {
            try
            {
                return AnalystSession().Query(sql, format, Database);
            }
            catch (ClickHouseQueryException e)
            {
                throw _options.Limits.Explain(e);
            }
        }, ct);
    }

    /// <summary>The engine's own guard behind <see cref="ReadOnlySql"/>: a connection of its own whose session has the
    /// analyst limits and <c>readonly = 1</c>, so a spelling the check misses still cannot write, call a table function
    /// that reaches outside, change a setting or run unbounded. Opened on first use, closed with the store.</summary>
    private EmbeddedClickHouse.ReadOnlySession AnalystSession()
    {
        lock (_analystGate)
            return _analyst ??= _engine.OpenReadOnlySession(
                [.. _options.Limits.Validated().Settings(), .. EmbeddedOnlySettings]);
    }

    /// <summary>chDB 26.5 settings a server of another version may not know: no calls to AI providers, no Python table function.</summary>
    private static readonly KeyValuePair<string, string>[] EmbeddedOnlySettings =
        [new("allow_experimental_ai_functions", "0"), new("allow_python_table_function", "0")];

    private readonly Lock _analystGate = new();
    private EmbeddedClickHouse.ReadOnlySession? _analyst;

    public ValueTask DisposeAsync()
    {
        lock (_analystGate)
        {
            _analyst?.Dispose();
            _analyst = null;
        }
        if (_ownsEngine) _engine.Dispose();
        return ValueTask.CompletedTask;
    }
}
