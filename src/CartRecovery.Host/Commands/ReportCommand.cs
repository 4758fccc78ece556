using System.CommandLine;
using CartRecovery.Analytics;
using CartRecovery.Storage;

namespace CartRecovery.Host.Commands;

/// <summary><c>cartrecovery report</c>: writes the self-contained HTML analytics report and prints where.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Directory of the embedded ClickHouse store", DefaultValueFactory = _ => "./data" };
        var output = new Option<string?>("--out") { Description = "HTML file to write (default: <data>/report.html)" };
        var database = new Option<string>("--database") { Description = "Database to report on (e.g. a replay's)", DefaultValueFactory = _ => AnalyticsStoreOptions.DefaultDatabase };
        var command = new Command("report", "Write a self-contained HTML report (funnels, recovery rates, lift vs holdout, time to recovery, origins, audit completeness, shopper profiles and win-back, the risk score's ROC AUC)");
        command.Options.Add(data);
        command.Options.Add(output);
        command.Options.Add(database);
        command.SetAction(async (parse, ct) =>
        {
            var dataDirectory = parse.GetValue(data)!;
            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(dataDirectory, "report.html"));
            string html;
            var options = new AnalyticsStoreOptions { Database = parse.GetValue(database)! };
            await using (var store = AnalyticsStoreFactory.Open(dataDirectory, options))
            {
                // Creates the recovery_outcomes view in stores written before it existed; tables are left as they are.
                await store.EnsureSchemaAsync(ct);
                // The report's queries are analyst queries: read-only, within the Query limits, like the query command's.
                await using var reader = AnalyticsStoreFactory.Open(dataDirectory, options with { ReadOnly = true, Limits = HostConfiguration.Current.QueryLimits });
                html = await AnalyticsReport.RenderAsync(reader, ct);
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, html, ct);
            Console.WriteLine($"report written to {path}");
            return 0;
        });
        return command;
    }
}
