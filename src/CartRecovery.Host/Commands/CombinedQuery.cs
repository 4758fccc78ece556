using System.Diagnostics;
using CartRecovery.Storage;
using CartRecovery.Streaming.Output;

namespace CartRecovery.Host.Commands;

/// <summary>
/// An analyst query over several embedded stores at once (one per worker process: chDB lets one process own one
/// data directory, and only one per process). Each directory is read by a child process of this CLI, its rows are
/// loaded into a scratch store (the tables deduplicate on their ids, so rows a crashed worker wrote twice, or two
/// workers wrote across a rebalance, count once), and the query runs there. Production writes to one server.
/// </summary>
public static class CombinedQuery
{
    public static async Task<string> RunAsync(IReadOnlyList<string> dataDirectories, string sql, string format, CancellationToken ct)
    {
        Storage.ReadOnlySql.Check(sql); // before loading anything: the scratch store is writable, the analyst path is not
        var scratch = Directory.CreateTempSubdirectory("cartrecovery-query-");
        try
        {
            await using var store = AnalyticsStoreFactory.Open(scratch.FullName);
            await store.EnsureSchemaAsync(ct);
            foreach (var directory in dataDirectories)
            {
                if (!Directory.Exists(Path.Combine(directory, "clickhouse")))
                    throw new ArgumentException($"--data: no analytics store in {directory}");
                foreach (var table in Tables.All)
                {
                    var rows = await ReadTableAsync(directory, table, ct);
                    if (rows.Count > 0) await store.InsertJsonEachRowAsync(table, rows, ct);
                }
            }
            // The query itself runs on the analyst path: guard, read-only session and limits, as on one store.
            await using var reader = AnalyticsStoreFactory.Open(scratch.FullName,
                new Storage.AnalyticsStoreOptions { ReadOnly = true, Limits = HostConfiguration.Current.QueryLimits });
            return await reader.QueryAsync(sql, format, ct);
        }
        finally
        {
            try { scratch.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<List<string>> ReadTableAsync(string directory, string table, CancellationToken ct)
    {
        var self = typeof(CombinedQuery).Assembly.Location;
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(info.FileName) == "dotnet") info.ArgumentList.Add(self);
        foreach (var arg in new[] { "query", "--data", directory, "--format", "json", $"SELECT * FROM {table}" }) info.ArgumentList.Add(arg);
        using var child = Process.Start(info) ?? throw new InvalidOperationException("could not start a reader process");
        var stdout = child.StandardOutput.ReadToEndAsync(ct);
        var stderr = child.StandardError.ReadToEndAsync(ct);
        await child.WaitForExitAsync(ct);
        if (child.ExitCode != 0) throw new InvalidOperationException($"reading {table} from {directory} failed: {(await stderr).Trim()}");
        return [.. (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
