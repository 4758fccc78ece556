using System.Globalization;
using CartRecovery.Storage;

namespace CartRecovery.Host.Commands;

/// <summary>The summary printed at the end of a run: counters of the run, and what the analytics store holds.</summary>
public static class RunSummary
{
    public static async Task PrintAsync(IAnalyticsStore store, WorkerRun run, TextWriter output, CancellationToken ct)
    {
        async Task<string> Scalar(string sql) => (await store.QueryAsync(sql, "TabSeparated", ct)).Trim();
        async Task Table(string title, string sql)
        {
            output.WriteLine(title);
            var text = await store.QueryAsync(sql, "PrettyCompactMonoBlock", ct);
            output.Write(text.Length == 0 ? "  (none)\n" : text);
        }

        var seconds = Math.Max(run.Elapsed.TotalSeconds, 0.001);
        output.WriteLine();
        output.WriteLine("== CartRecovery run summary ==");
        var rows = new List<(string, string)>
        {
            ("events consumed", run.EventsConsumed.ToString("N0", CultureInfo.InvariantCulture)),
            ("dead letters", run.DeadLetters.ToString("N0", CultureInfo.InvariantCulture)),
            ("late events (audited)", run.LateEvents.ToString("N0", CultureInfo.InvariantCulture)),
            ("sessions", await Scalar("SELECT count() FROM session_outcomes FINAL")),
            ("carts abandoned", await Scalar("SELECT countIf(abandoned_at IS NOT NULL) FROM session_outcomes FINAL")),
            ("  of which recovered", await Scalar("SELECT countIf(outcome = 'abandoned_recovered') FROM session_outcomes FINAL")),
            ("  of which holdout", await Scalar("SELECT countIf(holdout = 1 AND abandoned_at IS NOT NULL) FROM session_outcomes FINAL")),
            ("orders", await Scalar("SELECT countIf(ordered_at IS NOT NULL) FROM session_outcomes FINAL")),
            ("triggers emitted", await Scalar("SELECT count() FROM recovery_triggers FINAL")),
            ("  proactive chat", await Scalar("SELECT countIf(kind = 'proactive_chat') FROM recovery_triggers FINAL")),
            ("suppressions", await Scalar("SELECT count() FROM audit_log FINAL WHERE decision = 'suppressed'")),
            ("wall time (s)", seconds.ToString("F1", CultureInfo.InvariantCulture)),
            ("events/s", (run.EventsConsumed / seconds).ToString("N0", CultureInfo.InvariantCulture)),
        };
        var width = rows.Max(r => r.Item1.Length);
        foreach (var (name, value) in rows) output.WriteLine($"  {name.PadRight(width)}  {value,12}");
        output.WriteLine();
        await Table("triggers by kind, step and channel:",
            "SELECT kind, step, channel, count() AS triggers FROM recovery_triggers FINAL GROUP BY kind, step, channel ORDER BY kind, step, channel");
        await Table("suppressions by reason:",
            "SELECT reason, count() AS suppressions FROM audit_log FINAL WHERE decision = 'suppressed' GROUP BY reason ORDER BY suppressions DESC, reason");
        await Table("session outcomes:",
            "SELECT outcome, count() AS sessions, sum(cart_value) AS cart_value FROM session_outcomes FINAL GROUP BY outcome ORDER BY sessions DESC");
        await Table("rows per ClickHouse table:",
            // A UNION ALL comes back in whatever order its parts finish: sort it, so two runs print the same table.
            "SELECT table, rows FROM (" +
            "SELECT 'recovery_triggers' AS table, count() AS rows FROM recovery_triggers FINAL UNION ALL " +
            "SELECT 'audit_log', count() FROM audit_log FINAL UNION ALL SELECT 'session_outcomes', count() FROM session_outcomes FINAL UNION ALL " +
            "SELECT 'dead_letters', count() FROM dead_letters FINAL) ORDER BY table");
    }
}
