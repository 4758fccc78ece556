using System.Text;
using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage.Embedded;

/// <summary>The analytics store on the embedded chDB engine: the default of a one-machine run and the engine
/// the tests run the real ClickHouse SQL on. Everything runs in <see cref="AnalyticsStoreOptions.Database"/>.</summary>
public sealed class ChDbAnalyticsStore : IAnalyticsStore
{
    /// <summary>Rows per INSERT statement: large enough for efficient parts, small enough to bound the SQL text.</summary>
    public const int RowsPerStatement = 50_000;

    private readonly EmbeddedClickHouse _engine;
    private readonly AnalyticsStoreOptions _options;
    private readonly string _database;
    private readonly bool _ownsEngine;

    public ChDbAnalyticsStore(EmbeddedClickHouse engine) : this(engine, AnalyticsStoreOptions.Default) { }

    /// <param name="ownsEngine">Dispose the engine with the store; false when several stores (databases) share one engine.</param>
    public ChDbAnalyticsStore(EmbeddedClickHouse engine, AnalyticsStoreOptions options, bool ownsEngine = true)
    {
        _engine = engine;
        _options = options;
        _database = options.ValidatedDatabase();
        _ownsEngine = ownsEngine;
    }

    public string Database => _database;

    public Task EnsureSchemaAsync(CancellationToken ct)
    {
        _engine.Query($"CREATE DATABASE IF NOT EXISTS {_database}", "TabSeparated", AnalyticsStoreOptions.DefaultDatabase);
        foreach (var statement in AnalyticsSchema.StatementsFor(_options.Schema)) _engine.Query(statement, "TabSeparated", _database);
        return Task.CompletedTask;
    }

    public Task InsertJsonEachRowAsync(string table, IReadOnlyList<string> jsonRows, CancellationToken ct)
    {
        for (var start = 0; start < jsonRows.Count; start += RowsPerStatement)
        {
            ct.ThrowIfCancellationRequested();
            var sql = new StringBuilder($"INSERT INTO {table} SETTINGS {AnalyticsSchema.InsertSettings} FORMAT JSONEachRow\n");
            var end = Math.Min(jsonRows.Count, start + RowsPerStatement);
            for (var i = start; i < end; i++) sql.Append(jsonRows[i]).Append('\n');
            _engine.Query(sql.ToString(), "TabSeparated", _database);
        }
        return Task.CompletedTask;
    }

    public Task<string> QueryAsync(string sql, string format, CancellationToken ct) => Task.FromResult(_engine.Query(sql, format, _database));

    public ValueTask DisposeAsync()
    {
        if (_ownsEngine) _engine.Dispose();
        return ValueTask.CompletedTask;
    }
}
