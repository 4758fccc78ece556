using System.Globalization;
using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>
/// The closed loop's headline lines, each with its denominator: recovery rate, lift against the holdout with its 95%
/// confidence interval (<see cref="ConfidenceIntervals"/>: Newcombe's, or "too few to tell"), open and click rates of delivered reminders, chat conversion and first-contact resolution.
/// Read with the one query of each metric (<see cref="FeedbackQueries"/>, <see cref="AnalystQueries.LiftVsHoldout"/>).
/// </summary>
public static class ClosedLoopFigures
{
    public static async Task<IReadOnlyList<(string Label, string Value)>> ReadAsync(IAnalyticsStore store, CancellationToken ct)
    {
        async Task<QueryTable> Run(AnalystQuery query) => QueryTable.Parse(await store.QueryAsync(query.Sql, QueryTable.Format, ct));
        var rows = new List<(string, string)>();

        var recovery = await Run(FeedbackQueries.RecoveryRate);
        if (recovery.Rows.Count > 0)
            rows.Add(("recovery rate", $"{Percent(recovery.Number(0, "recovery_rate"))} ({recovery.Text(0, "recovered_carts")} of {recovery.Text(0, "remindable_carts")} remindable carts)"));

        var lift = await Run(AnalystQueries.LiftVsHoldout);
        if (lift.Rows.Count > 0)
            rows.Add(("lift vs holdout", $"{Points(lift.Number(0, "lift"))} [{ConfidenceIntervals.Describe(FigureIntervals.Lift(lift), Points)}] " +
                $"({lift.Text(0, "treated_converted")}/{lift.Text(0, "treated_carts")} vs {lift.Text(0, "holdout_converted")}/{lift.Text(0, "holdout_carts")} converted)"));

        var engagement = await Run(FeedbackQueries.MessageEngagement);
        double Sum(string column) => engagement.RowIndexes.Sum(i => engagement.Number(i, column));
        var (sent, delivered, opened, clicked) = (Sum("sent"), Sum("delivered"), Sum("opened"), Sum("clicked"));
        if (sent > 0)
        {
            rows.Add(("reminders delivered", $"{Percent(delivered / sent)} ({delivered:0} of {sent:0} sent)"));
            rows.Add(("  opened", $"{Percent(delivered == 0 ? 0 : opened / delivered)} ({opened:0} of {delivered:0} delivered)"));
            rows.Add(("  clicked", $"{Percent(delivered == 0 ? 0 : clicked / delivered)} ({clicked:0} of {delivered:0} delivered)"));
        }

        var chat = await Run(FeedbackQueries.ChatConversion);
        if (chat.Rows.Count > 0 && chat.Number(0, "chats_offered") > 0)
            rows.Add(("chat conversion", $"{Percent(chat.Number(0, "conversion_of_offered"))} ({chat.Text(0, "offered_then_ordered")} of {chat.Text(0, "chats_offered")} offered)"));
        var resolution = await Run(FeedbackQueries.FirstContactResolution);
        if (resolution.Rows.Count > 0 && resolution.Number(0, "chats_resolved") > 0)
            rows.Add(("first-contact resolution", $"{Percent(resolution.Number(0, "first_contact_resolution_rate"))} ({resolution.Text(0, "resolved_first_contact")} of {resolution.Text(0, "chats_resolved")} resolved)"));
        var reduction = await Run(FeedbackQueries.ChatAbandonmentReduction);
        if (reduction.Rows.Count > 0 && reduction.Number(0, "holdout_sessions") > 0)
            rows.Add(("chat abandonment reduction", $"{Points(reduction.Number(0, "abandonment_reduction"))} " +
                $"[{ConfidenceIntervals.Describe(FigureIntervals.ChatAbandonmentReduction(reduction), Points)}] ({reduction.Text(0, "offered_abandoned")}/{reduction.Text(0, "offered_sessions")} vs " +
                $"{reduction.Text(0, "holdout_abandoned")}/{reduction.Text(0, "holdout_sessions")} abandoned)"));
        return rows;
    }

    private static string Percent(double share) => double.IsNaN(share) ? "n/a" : (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    private static string Points(double share) => double.IsNaN(share) ? "n/a" : (share * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " pp";
}
