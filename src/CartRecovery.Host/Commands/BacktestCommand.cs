using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CartRecovery.Analytics;
using CartRecovery.Domain.Policy;
using CartRecovery.Storage;
using CartRecovery.Traffic.Import;

namespace CartRecovery.Host.Commands;

/// <summary>
/// <c>backtest</c>: the same recorded input replayed under two policies, each in its own process and data directory
/// (<c>replay --input ... --policy P --data WORK/a|b</c>), then a side-by-side comparison of what each policy would
/// have done: triggers by step and channel, suppressions by reason, holdout share, messages per shopper, timing of
/// each step, and the recoveries the input's own orders show. Printed, and written as a self-contained HTML page
/// (and as JSON with --json).
/// </summary>
public static class BacktestCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--input") { Description = "Recorded input file", Required = true };
        var format = new Option<string>("--format") { Description = "rees46 | taobao | ndjson", DefaultValueFactory = _ => ImportFormats.Ndjson };
        format.AcceptOnlyFromAmong([.. ImportFormats.All]);
        var policies = new Option<string[]>("--policy") { Description = "Policy file; give exactly two: --policy A --policy B", Required = true };
        var htmlOut = new Option<string>("--out") { Description = "HTML report to write", DefaultValueFactory = _ => "backtest-report.html" };
        var jsonOut = new Option<string?>("--json") { Description = "Also write the comparison as JSON" };
        var work = new Option<string>("--work") { Description = "Directory of the two runs' data directories (WORK/a, WORK/b); emptied first", DefaultValueFactory = _ => "./backtest" };
        var partitions = new Option<int>("--partitions") { Description = "Partitions per input topic of the embedded brokers", DefaultValueFactory = _ => 6 };
        var maxBadShare = new Option<double>("--max-bad-share") { Description = "Fail when more than this share of the input lines is bad", DefaultValueFactory = _ => 0.01 };

        var command = new Command("backtest", "Replay the same input under two policies (--policy A --policy B) and compare them side by side (printed and HTML)");
        foreach (var option in new Option[] { input, format, policies, htmlOut, jsonOut, work, partitions, maxBadShare }) command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var files = parse.GetValue(policies)!;
            if (files.Length != 2) throw new ArgumentException($"backtest: give exactly two policies (--policy A --policy B), got {files.Length}");
            var inputFile = parse.GetValue(input)!;
            if (!File.Exists(inputFile)) throw new ArgumentException($"--input: file not found: {inputFile}");
            var workDirectory = Path.GetFullPath(parse.GetValue(work)!);
            var runs = new List<BacktestRun>();
            for (var i = 0; i < 2; i++)
            {
                var policy = WorkerRunner.LoadPolicy(files[i]);
                var label = i == 0 ? "A" : "B";
                var data = Path.Combine(workDirectory, label.ToLowerInvariant());
                if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
                Directory.CreateDirectory(data);
                var metricsFile = Path.Combine(data, "metrics.json");
                Console.WriteLine($"backtest: policy {label} = {files[i]} (version {policy.Version}) -> {data}");
                var exit = await RunSelfAsync(ct, $"backtest policy {label} ({i + 1}/2)", "replay", "--input", Path.GetFullPath(inputFile), "--format", parse.GetValue(format)!, "--policy", Path.GetFullPath(files[i]),
                    "--data", data, "--partitions", parse.GetValue(partitions).ToString(CultureInfo.InvariantCulture),
                    "--max-bad-share", parse.GetValue(maxBadShare).ToString(CultureInfo.InvariantCulture), "--metrics-out", metricsFile);
                if (exit != 0) throw new InvalidOperationException($"backtest: the replay under policy {label} failed (exit {exit}); see {Path.Combine(data, "replay.log")}");
                runs.Add(new BacktestRun(label, files[i], policy.Version, BacktestMetrics.FromJson(await File.ReadAllTextAsync(metricsFile, ct))));
            }

            var comparison = BacktestComparison.Of(runs[0], runs[1]);
            comparison.Print(Console.Out);
            var html = parse.GetValue(htmlOut)!;
            await File.WriteAllTextAsync(html, comparison.ToHtml(Path.GetFileName(inputFile)), ct);
            Console.WriteLine($"\nreport: {Path.GetFullPath(html)}");
            if (parse.GetValue(jsonOut) is { } json) await File.WriteAllTextAsync(json, comparison.ToJson(), ct);
            return 0;
        });
        return command;
    }

    /// <summary>Runs this CLI as a child process (one process per chDB data directory), its output logged beside the data;
    /// the child's progress lines drive this process's progress display.</summary>
    private static async Task<int> RunSelfAsync(CancellationToken ct, string progressLabel, params string[] args)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(BacktestCommand).Assembly.Location);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // The backtest's configuration keys (./run.sh adds --Compliance:AllowDevelopmentKeys=true) hold for its replays too:
        // without them a replay without configured keys refuses to start.
        foreach (var token in HostConfiguration.CommandLine) info.ArgumentList.Add(token);
        info.Environment[RunProgress.IntervalVariable] = "1";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("backtest: could not start the replay");
        var data = args[Array.IndexOf(args, "--data") + 1];
        await using var log = new StreamWriter(Path.Combine(data, "replay.log"));
        var latest = new ProgressSample(0, null, 0);
        await using (RunProgress.Start(progressLabel, () => latest))
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var errors = new System.Text.StringBuilder();
            while (await process.StandardError.ReadLineAsync(ct) is { } line)
            {
                if (RunProgress.TryParse(line, out var sample)) latest = sample;
                else errors.AppendLine(line);
            }
            await process.WaitForExitAsync(ct);
            await log.WriteAsync(await stdout);
            await log.WriteAsync(errors.ToString());
        }
        return process.ExitCode;
    }
}

public sealed record BacktestRun(string Label, string PolicyFile, string PolicyVersion, IReadOnlyList<BacktestMetric> Metrics);

/// <summary>One figure of a run: its section of the report, its name, and its value as shown.</summary>
public sealed record BacktestMetric(string Section, string Name, string Value);

/// <summary>The figures a backtest compares, computed with ClickHouse SQL on one run's store.</summary>
public static class BacktestMetrics
{
    /// <summary>Medians, not counts: a step one policy does not have has no timing ("-"), never a timing of 0.</summary>
    public const string TimingSection = "timing of reminders (hours after abandonment, median)";

    public static async Task<string> CollectJsonAsync(IAnalyticsStore store, RecoveryPolicy policy, CancellationToken ct)
    {
        var metrics = await CollectAsync(store, policy, ct);
        var array = new JsonArray([.. metrics.Select(m => (JsonNode)new JsonObject { ["section"] = m.Section, ["name"] = m.Name, ["value"] = m.Value })]);
        return array.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static IReadOnlyList<BacktestMetric> FromJson(string json) =>
        [.. JsonNode.Parse(json)!.AsArray().Select(n => new BacktestMetric((string)n!["section"]!, (string)n["name"]!, (string)n["value"]!))];

    public static async Task<IReadOnlyList<BacktestMetric>> CollectAsync(IAnalyticsStore store, RecoveryPolicy policy, CancellationToken ct)
    {
        var metrics = new List<BacktestMetric>();
        async Task<List<string[]>> Rows(string sql) =>
            [.. (await store.QueryAsync(sql, "TabSeparated", ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))];
        async Task Add(string section, string sql)
        {
            foreach (var row in await Rows(sql)) metrics.Add(new BacktestMetric(section, row[0], row[1]));
        }
        async Task AddTable(string section, AnalystQuery query, Func<Func<string, string>, string> name, Func<Func<string, string>, string> value)
        {
            var table = QueryTable.Parse(await store.QueryAsync(query.Sql, QueryTable.Format, ct));
            foreach (var i in table.RowIndexes) metrics.Add(new BacktestMetric(section, name(c => table.Text(i, c)), value(c => table.Text(i, c))));
        }

        // Figures shared with the run summary and the report come from their one definition (CartRecovery.Analytics).
        var headline = (await HeadlineFigures.ReadAsync(store, ct)).ToDictionary(f => f.Column, f => f.Value);
        const string Input = "input";
        metrics.Add(new BacktestMetric(Input, "sessions", headline["sessions"]));
        metrics.Add(new BacktestMetric(Input, "orders", headline["orders"]));
        metrics.Add(new BacktestMetric(Input, "carts abandoned", headline["carts_abandoned"]));
        // Rejected input lines and records (docs/replay.md, "Bad lines"): the same in both runs unless a policy made a decision fail.
        await Add(Input, "SELECT 'dead letters', toString(count()) FROM dead_letters FINAL");

        await AddTable("triggers by kind, step and channel", AnalystQueries.TriggersByKindStepChannel,
            row => $"{row("kind")} step {row("step")} via {row("channel")}", row => row("triggers"));
        await AddTable("suppressions by reason", AnalystQueries.SuppressionsByReason, row => row("reason"), row => row("suppressions"));
        await Add("deferrals by reason",
            "SELECT reason, toString(count()) FROM audit_log FINAL WHERE decision = 'deferred' GROUP BY reason ORDER BY reason");

        const string Holdout = "holdout";
        var abandoned = long.Parse(headline["carts_abandoned"], CultureInfo.InvariantCulture);
        var inHoldout = long.Parse(headline["carts_in_holdout"], CultureInfo.InvariantCulture);
        metrics.Add(new BacktestMetric(Holdout, "abandoned carts in holdout", headline["carts_in_holdout"]));
        metrics.Add(new BacktestMetric(Holdout, "holdout share of abandoned carts",
            Math.Round((double)inHoldout / Math.Max(abandoned, 1), 4).ToString(CultureInfo.InvariantCulture)));

        const string Messages = "messages per shopper";
        const string Reminders = "(SELECT shopper_id, count() AS messages FROM recovery_triggers FINAL WHERE kind = 'reminder' GROUP BY shopper_id)";
        await Add(Messages, $"SELECT 'shoppers messaged', toString(count()) FROM {Reminders}");
        await Add(Messages, $"SELECT 'reminders per messaged shopper (mean)', toString(round(avg(messages), 3)) FROM {Reminders}");
        await Add(Messages, $"SELECT concat('shoppers with ', toString(messages), ' reminders'), toString(count()) FROM {Reminders} GROUP BY messages ORDER BY messages");

        // Each reminder against the abandonment it belongs to: the latest 'abandoned' audit row of its session at or before it was due.
        await Add(TimingSection,
            // UNION ALL has no order of its own in ClickHouse (its parts run in parallel): sort the union explicitly.
            "SELECT name, value FROM (" +
            "SELECT t.step AS s, 0 AS k, concat('step ', toString(t.step), ' due') AS name, toString(round(quantileExact(0.5)(dateDiff('second', a.abandoned_at, t.due_time)) / 3600, 2)) AS value " +
            "FROM (SELECT shopper_id, session_id, step, due_time, event_time FROM recovery_triggers FINAL WHERE kind = 'reminder') AS t " +
            "ASOF INNER JOIN (SELECT shopper_id, session_id, event_time AS abandoned_at FROM audit_log FINAL WHERE decision = 'abandoned') AS a " +
            "ON t.shopper_id = a.shopper_id AND t.session_id = a.session_id AND t.due_time >= a.abandoned_at GROUP BY t.step " +
            "UNION ALL " +
            "SELECT t.step AS s, 1 AS k, concat('step ', toString(t.step), ' sent') AS name, toString(round(quantileExact(0.5)(dateDiff('second', a.abandoned_at, t.event_time)) / 3600, 2)) AS value " +
            "FROM (SELECT shopper_id, session_id, step, due_time, event_time FROM recovery_triggers FINAL WHERE kind = 'reminder') AS t " +
            "ASOF INNER JOIN (SELECT shopper_id, session_id, event_time AS abandoned_at FROM audit_log FINAL WHERE decision = 'abandoned') AS a " +
            "ON t.shopper_id = a.shopper_id AND t.session_id = a.session_id AND t.due_time >= a.abandoned_at GROUP BY t.step" +
            ") ORDER BY s, k");

        // Recoveries the input itself shows (its own orders), by the definitions of the recovery_outcomes view: converted
        // (ordered within the attribution window), recovered (after a reminder: attributed), revenue per currency, and the
        // conversion of the messaged group against the holdout (lift).
        const string Recoveries = "recoveries (orders in the input)";
        metrics.Add(new BacktestMetric(Recoveries, "abandoned carts converted", headline["carts_converted"]));
        metrics.Add(new BacktestMetric(Recoveries, "abandoned carts recovered", headline["carts_recovered"]));
        foreach (var (currency, _, revenue) in await HeadlineFigures.RevenueAsync(store, ct))
            metrics.Add(new BacktestMetric(Recoveries, $"recovered revenue ({currency})", revenue));
        var lift = QueryTable.Parse(await store.QueryAsync(AnalystQueries.LiftVsHoldout.Sql, QueryTable.Format, ct));
        string Rate(string column) => lift.Number(0, column) is var rate && double.IsFinite(rate)
            ? Math.Round(rate, 4).ToString(CultureInfo.InvariantCulture) : "n/a";
        metrics.Add(new BacktestMetric(Recoveries, "conversion rate, messaged group", Rate("treated_rate")));
        metrics.Add(new BacktestMetric(Recoveries, "conversion rate, holdout group", Rate("holdout_rate")));
        metrics.Add(new BacktestMetric(Recoveries, "lift over holdout, 95% CI (Newcombe)", FigureIntervals.Lift(lift) is { } ci
            ? string.Create(CultureInfo.InvariantCulture, $"[{ci.Low:0.0000}, {ci.High:0.0000}]") : ConfidenceIntervals.TooFew));
        var incremental = lift.Number(0, "lift") * lift.Number(0, "treated_carts");
        metrics.Add(new BacktestMetric(Recoveries, "expected incremental conversions (lift over holdout x messaged carts)",
            double.IsFinite(incremental) && lift.Number(0, "holdout_carts") > 0 ? Math.Round(incremental, 1).ToString(CultureInfo.InvariantCulture) : "n/a"));
        return metrics;
    }
}

/// <summary>Two runs side by side: every metric either has, in the order of the report.</summary>
public sealed record BacktestComparison(BacktestRun A, BacktestRun B, IReadOnlyList<BacktestComparison.Row> Rows)
{
    public sealed record Row(string Section, string Name, string A, string B)
    {
        public bool Differs => A != B;
        /// <summary>What a run without the metric shows: a count it does not have is 0; a median of nothing is "-".</summary>
        public const string None = "-";

        public string Delta => A == None || B == None ? "" : decimal.TryParse(A, NumberStyles.Number, CultureInfo.InvariantCulture, out var a)
            && decimal.TryParse(B, NumberStyles.Number, CultureInfo.InvariantCulture, out var b)
            ? (b - a).ToString("+0.####;-0.####;0", CultureInfo.InvariantCulture) : Differs ? "changed" : "";
    }

    public static BacktestComparison Of(BacktestRun a, BacktestRun b)
    {
        var keys = new List<(string Section, string Name)>();
        foreach (var m in a.Metrics.Concat(b.Metrics))
            if (!keys.Contains((m.Section, m.Name))) keys.Add((m.Section, m.Name));
        var sections = keys.Select(k => k.Section).Distinct().ToList();
        string Value(BacktestRun run, (string Section, string Name) key) =>
            run.Metrics.FirstOrDefault(m => m.Section == key.Section && m.Name == key.Name)?.Value
                ?? (key.Section == BacktestMetrics.TimingSection ? Row.None : "0");
        var rows = keys.OrderBy(k => sections.IndexOf(k.Section)).ThenBy(k => keys.IndexOf(k))
            .Select(k => new Row(k.Section, k.Name, Value(a, k), Value(b, k))).ToList();
        return new BacktestComparison(a, b, rows);
    }

    public void Print(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("== CartRecovery backtest ==");
        output.WriteLine($"  A: {A.PolicyFile} (version {A.PolicyVersion})");
        output.WriteLine($"  B: {B.PolicyFile} (version {B.PolicyVersion})");
        var width = Math.Max(40, Rows.Max(r => r.Name.Length) + 2);
        foreach (var section in Rows.GroupBy(r => r.Section))
        {
            output.WriteLine();
            output.WriteLine(section.Key + ":");
            output.WriteLine($"  {"",-1}{"".PadRight(width)}{"A",12}{"B",12}{"B - A",12}");
            foreach (var row in section)
                output.WriteLine($"  {(row.Differs ? "*" : " ")}{row.Name.PadRight(width)}{row.A,12}{row.B,12}{row.Delta,12}");
        }
        output.WriteLine();
        output.WriteLine($"{Rows.Count(r => r.Differs)} of {Rows.Count} figures differ (marked *)");
    }

    public string ToJson()
    {
        var root = new JsonObject
        {
            ["a"] = new JsonObject { ["policy_file"] = A.PolicyFile, ["policy_version"] = A.PolicyVersion },
            ["b"] = new JsonObject { ["policy_file"] = B.PolicyFile, ["policy_version"] = B.PolicyVersion },
            ["rows"] = new JsonArray([.. Rows.Select(r => (JsonNode)new JsonObject
            {
                ["section"] = r.Section, ["name"] = r.Name, ["a"] = r.A, ["b"] = r.B, ["differs"] = r.Differs,
            })]),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>One HTML page, inline CSS, no scripts or external resources: it can be mailed or archived as is.</summary>
    public string ToHtml(string inputName)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>CartRecovery backtest</title>\n<style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em;min-width:44em}")
            .Append("th,td{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append("tr.differs td{background:#fff3cd;font-weight:600}h2{font-size:1.1em;margin-top:1.5em}.meta{color:#555}")
            .Append("</style></head><body>\n<h1>CartRecovery backtest</h1>\n")
            .Append($"<p class=\"meta\">input <code>{E(inputName)}</code>; A = <code>{E(Path.GetFileName(A.PolicyFile))}</code> (version {E(A.PolicyVersion)}), ")
            .Append($"B = <code>{E(Path.GetFileName(B.PolicyFile))}</code> (version {E(B.PolicyVersion)}). ")
            .Append($"{Rows.Count(r => r.Differs)} of {Rows.Count} figures differ (highlighted).</p>\n");
        foreach (var section in Rows.GroupBy(r => r.Section))
        {
            html.Append($"<h2>{E(section.Key)}</h2>\n<table><tr><th></th><th>A</th><th>B</th><th>B &minus; A</th></tr>\n");
            foreach (var row in section)
                html.Append($"<tr{(row.Differs ? " class=\"differs\"" : "")}><td>{E(row.Name)}</td><td>{E(row.A)}</td><td>{E(row.B)}</td><td>{E(row.Delta)}</td></tr>\n");
            html.Append("</table>\n");
        }
        html.Append("</body></html>\n");
        return html.ToString();
    }
}
