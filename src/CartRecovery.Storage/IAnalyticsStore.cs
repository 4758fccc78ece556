namespace CartRecovery.Storage;

/// <summary>
/// The analytics store the worker writes to and analysts query. Two implementations share one DDL source
/// (<see cref="Schema.AnalyticsSchema"/>) and the same SQL: the embedded chDB engine
/// (<see cref="Embedded.ChDbAnalyticsStore"/>, the default of a one-machine run and what the tests run on) and a
/// ClickHouse server through ClickHouse.Driver (<see cref="Server.ClickHouseServerStore"/>). Nothing here assumes
/// either engine.
/// </summary>
/// <remarks>
/// Rows travel as JSONEachRow: one JSON object per row, snake_case field names equal to the column names, as the
/// project's one serializer (CartRecovery.Contracts ContractJson) writes them. Timestamps are ISO-8601 strings
/// (any offset; stored in UTC). The tables are ReplacingMergeTrees keyed on deterministic ids, so writing the same
/// batch again (a crash replays the tail since the last commit) changes nothing a query with <c>FINAL</c> returns.
/// Errors the engine reports surface as <see cref="ClickHouseQueryException"/>.
/// </remarks>
public interface IAnalyticsStore : IAsyncDisposable
{
    /// <summary>Creates the store's database and the tables of <see cref="Schema.AnalyticsSchema"/> if missing (idempotent).</summary>
    Task EnsureSchemaAsync(CancellationToken ct);

    /// <summary>
    /// Inserts rows already serialized as one JSON object each (JSONEachRow), as UTF-8: one row per line, each line
    /// ended by <c>\n</c> (<see cref="JsonEachRowBuffer.Rows"/>). The bytes go to the engine as they are, without
    /// another encoding. Missing fields take the column defaults; unknown fields are ignored
    /// (<see cref="Schema.AnalyticsSchema.InsertSettings"/>). Idempotent tables absorb repeats. Large batches are
    /// split into several statements at line ends, each atomic on its own.
    /// </summary>
    /// <param name="table">A table of the schema, e.g. "recovery_triggers" (a plain identifier).</param>
    /// <param name="jsonEachRow">The rows; read until the returned task completes, never kept after it.</param>
    Task InsertJsonEachRowAsync(string table, ReadOnlyMemory<byte> jsonEachRow, CancellationToken ct);

    /// <summary>
    /// Runs one statement and returns its output as text in <paramref name="format"/> (TabSeparatedWithNames,
    /// JSONEachRow, CSV, PrettyCompactMonoBlock, ...); a FORMAT clause in the SQL itself takes precedence.
    /// Unqualified table names resolve to the store's database.
    /// </summary>
    Task<string> QueryAsync(string sql, string format, CancellationToken ct);
}

/// <summary>Rows given as strings: tools, tests and one-off writes (the worker's output path writes UTF-8 rows into a
/// <see cref="JsonEachRowBuffer"/> itself and never holds a row as a string).</summary>
public static class AnalyticsStoreRows
{
    /// <summary>Inserts <paramref name="jsonRows"/> (each one JSON object on one line) through
    /// <see cref="IAnalyticsStore.InsertJsonEachRowAsync"/>, encoded once into a pooled buffer.</summary>
    public static async Task InsertJsonEachRowAsync(this IAnalyticsStore store, string table, IReadOnlyList<string> jsonRows, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(jsonRows);
        if (jsonRows.Count == 0) return;
        using var rows = new JsonEachRowBuffer();
        for (var i = 0; i < jsonRows.Count; i++)
        {
            var row = jsonRows[i] ?? throw new ArgumentException($"row {i} is null", nameof(jsonRows));
            var written = System.Text.Encoding.UTF8.GetBytes(row, rows.GetSpan(System.Text.Encoding.UTF8.GetMaxByteCount(row.Length)));
            rows.Advance(written);
            rows.EndRow();
        }
        await store.InsertJsonEachRowAsync(table, rows.Rows, ct).ConfigureAwait(false);
    }
}
