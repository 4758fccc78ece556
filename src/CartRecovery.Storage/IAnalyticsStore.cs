namespace CartRecovery.Storage;

/// <summary>
/// The analytics store the worker writes to and analysts query: ClickHouse, either the embedded chDB engine
/// (<see cref="Embedded.ChDbAnalyticsStore"/>) or a server (<see cref="Server.ClickHouseServerStore"/>).
/// Rows travel as JSONEachRow (the project's one serializer produces them); the tables deduplicate on
/// deterministic ids, so writing the same batch twice changes nothing a query with FINAL returns.
/// </summary>
public interface IAnalyticsStore : IAsyncDisposable
{
    /// <summary>Creates the tables of <see cref="Schema.AnalyticsSchema"/> if missing.</summary>
    Task EnsureSchemaAsync(CancellationToken ct);

    /// <summary>Inserts rows, one JSON object each. Unknown fields are ignored; missing ones take column defaults.</summary>
    Task InsertJsonEachRowAsync(string table, IReadOnlyList<string> jsonRows, CancellationToken ct);

    /// <summary>Runs a query and returns its output in a ClickHouse format (TabSeparatedWithNames, JSONEachRow, PrettyCompact, ...).</summary>
    Task<string> QueryAsync(string sql, string format, CancellationToken ct);
}

/// <summary>A query the engine refused: the message is the engine's, plus the start of the statement.</summary>
public sealed class ClickHouseQueryException(string message) : Exception(message);
