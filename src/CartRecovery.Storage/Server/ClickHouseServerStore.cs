using System.Text;
using CartRecovery.Storage.Schema;
using ClickHouse.Driver;

namespace CartRecovery.Storage.Server;

/// <summary>Connection to a ClickHouse server, e.g. "Host=ch.internal;Port=8443;Protocol=https;Username=cartrecovery;Password=...".</summary>
public sealed record ClickHouseServerSettings(string ConnectionString);

/// <summary>
/// The analytics store on a ClickHouse server through ClickHouse.Driver (the official .NET client, successor
/// of ClickHouse.Client): the same DDL and the same JSONEachRow rows as the embedded engine.
/// </summary>
public sealed class ClickHouseServerStore(ClickHouseServerSettings settings) : IAnalyticsStore
{
    private readonly ClickHouseClient _client = new(settings.ConnectionString);

    public async Task EnsureSchemaAsync(CancellationToken ct)
    {
        foreach (var statement in AnalyticsSchema.Statements)
            await _client.ExecuteNonQueryAsync(statement, null!, null!, ct);
    }

    public async Task InsertJsonEachRowAsync(string table, IReadOnlyList<string> jsonRows, CancellationToken ct)
    {
        if (jsonRows.Count == 0) return;
        var sql = new StringBuilder($"INSERT INTO {table} SETTINGS {AnalyticsSchema.InsertSettings} FORMAT JSONEachRow\n");
        foreach (var row in jsonRows) sql.Append(row).Append('\n');
        await _client.ExecuteNonQueryAsync(sql.ToString(), null!, null!, ct);
    }

    public async Task<string> QueryAsync(string sql, string format, CancellationToken ct)
    {
        using var result = await _client.ExecuteRawResultAsync($"{sql}\nFORMAT {format}", null!, ct);
        return await result.ReadAsStringAsync();
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
