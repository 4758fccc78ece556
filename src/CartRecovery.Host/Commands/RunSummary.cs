using System.Globalization;
using CartRecovery.Analytics;
using CartRecovery.Storage;

namespace CartRecovery.Host.Commands;

/// <summary>The summary printed at the end of a run: counters of the run, and what the analytics store holds.</summary>
public static class RunSummary
{
    public static async Task PrintAsync(IAnalyticsStore store, WorkerRun run, TextWriter output, CancellationToken ct)
    {
        async Task Table(string title, string sql)
        {
            output.WriteLine(title);
            var text = await store.QueryAsync(sql, "PrettyCompactMonoBlock", ct);
            output.Write(text.Length == 0 ? "  (none)\n" : text);
        }

        var seconds = Math.Max(run.Elapsed.TotalSeconds, 0.001);
        output.WriteLine();
        output.WriteLine("== CartRecovery run summary ==");
        // The shared figures come from the one query that defines them (CartRecovery.Analytics), as in the report and backtest.
        var rows = new List<(string, string)>
        {
            ("events consumed", run.EventsConsumed.ToString("N0", CultureInfo.InvariantCulture)),
            ("dead letters", run.DeadLetters.ToString("N0", CultureInfo.InvariantCulture)),
            ("late events (audited)", run.LateEvents.ToString("N0", CultureInfo.InvariantCulture)),
        };
        rows.AddRange((await HeadlineFigures.ReadAsync(store, ct)).Select(f => (f.Label, f.Value)));
        rows.AddRange((await HeadlineFigures.RevenueAsync(store, ct)).Select(r => ($"revenue recovered ({r.Currency})", r.Revenue)));
        rows.AddRange(await ClosedLoopFigures.ReadAsync(store, ct));
        rows.Add(("wall time (s)", seconds.ToString("F1", CultureInfo.InvariantCulture)));
        rows.Add(("events/s", (run.EventsConsumed / seconds).ToString("N0", CultureInfo.InvariantCulture)));
        var width = rows.Max(r => r.Item1.Length);
        foreach (var (name, value) in rows) output.WriteLine($"  {name.PadRight(width)}  {value,12}");
        output.WriteLine();
        await Table("triggers by kind, step and channel:", AnalystQueries.TriggersByKindStepChannel.Sql);
        await Table("suppressions by reason:", AnalystQueries.SuppressionsByReason.Sql);
        await Table("message engagement by step, channel and variant (rates of sent / delivered):", FeedbackQueries.MessageEngagement.Sql);
        await Table("average order value, recovered vs other orders:", FeedbackQueries.AverageOrderValue.Sql);
        // Without a chat offered there is no rate to show: say so rather than print a row of zeros.
        await Table("proactive chat:", $"SELECT * FROM ({FeedbackQueries.ChatConversion.Sql}) WHERE chats_offered > 0");
        await Table("abandonment reasons (surveys) by channel of origin:", FeedbackQueries.SurveyReasonsByOrigin.Sql);
        await Table("session outcomes:",
            // Cart values are summed per currency only: amounts in different currencies are never added.
            "SELECT outcome, currency, count() AS sessions, sum(cart_value) AS cart_value FROM session_outcomes FINAL " +
            "GROUP BY outcome, currency ORDER BY sessions DESC, outcome, currency");
        await Table("rows per ClickHouse table:",
            // A UNION ALL comes back in whatever order its parts finish: sort it, so two runs print the same table.
            "SELECT table, rows FROM (" +
            "SELECT 'recovery_triggers' AS table, count() AS rows FROM recovery_triggers FINAL UNION ALL " +
            "SELECT 'audit_log', count() FROM audit_log FINAL UNION ALL SELECT 'session_outcomes', count() FROM session_outcomes FINAL UNION ALL " +
            "SELECT 'dead_letters', count() FROM dead_letters FINAL UNION ALL SELECT 'outcome_events', count() FROM outcome_events FINAL " +
            "UNION ALL SELECT 'shopper_profiles', count() FROM shopper_profiles FINAL) ORDER BY table");
    }
}
