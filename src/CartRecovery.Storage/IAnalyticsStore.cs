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
    /// Inserts rows already serialized as one JSON object each (JSONEachRow). Missing fields take the column
    /// defaults; unknown fields are ignored (<see cref="Schema.AnalyticsSchema.InsertSettings"/>). Idempotent
    /// tables absorb repeats. Large batches are split into several statements, each atomic on its own.
    /// </summary>
    /// <param name="table">A table of the schema, e.g. "recovery_triggers" (a plain identifier).</param>
    Task InsertJsonEachRowAsync(string table, IReadOnlyList<string> jsonRows, CancellationToken ct);

    /// <summary>
    /// Runs one statement and returns its output as text in <paramref name="format"/> (TabSeparatedWithNames,
    /// JSONEachRow, CSV, PrettyCompactMonoBlock, ...); a FORMAT clause in the SQL itself takes precedence.
    /// Unqualified table names resolve to the store's database.
    /// </summary>
    Task<string> QueryAsync(string sql, string format, CancellationToken ct);
}
