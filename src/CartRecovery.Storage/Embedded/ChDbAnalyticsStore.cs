using System.Text;
using CartRecovery.Storage.Schema;

namespace CartRecovery.Storage.Embedded;

/// <summary>The analytics store on the embedded chDB engine: the default of a one-machine run and the engine
/// the tests run the real ClickHouse SQL on.</summary>
public sealed class ChDbAnalyticsStore(EmbeddedClickHouse engine) : IAnalyticsStore
{
    /// <summary>Rows per INSERT statement: large enough for efficient parts, small enough to bound the SQL text.</summary>
    public const int RowsPerStatement = 50_000;

    public Task EnsureSchemaAsync(CancellationToken ct)
    {
        foreach (var statement in AnalyticsSchema.Statements) engine.Query(statement);
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
            engine.Query(sql.ToString());
        }
        return Task.CompletedTask;
    }

    public Task<string> QueryAsync(string sql, string format, CancellationToken ct) => Task.FromResult(engine.Query(sql, format));

    public ValueTask DisposeAsync()
    {
        engine.Dispose();
        return ValueTask.CompletedTask;
    }
}
