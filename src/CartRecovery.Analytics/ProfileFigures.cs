using System.Globalization;
using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>The win-back messages' results (<see cref="ProfileQueries.WinBackResults"/>): sent, followed by an order within
/// the attribution window (with the Wilson interval of that share, null when fewer than <see cref="ConfidenceIntervals.MinimumGroup"/>
/// were sent), suppressed.</summary>
public sealed record WinBackFigures(long Sent, long OrderedWithinWindow, long Suppressed, Interval? OrderRateInterval)
{
    public double OrderRate => Sent == 0 ? 0 : (double)OrderedWithinWindow / Sent;
}

/// <summary>The report's "Shopper profiles" section, read with <see cref="ProfileQueries"/>: shoppers per segment, the
/// churn-risk distribution, lifetime value per currency, and win-back results. <see cref="Shoppers"/> = 0: no profile yet.</summary>
public sealed record ProfileFigures(
    long Shoppers,
    IReadOnlyList<ChartBar> Segments,
    IReadOnlyList<ChartBar> ChurnRisk,
    QueryTable LifetimeValue,
    WinBackFigures WinBack,
    QueryTable WinBackSuppressions)
{
    public static async Task<ProfileFigures> ReadAsync(IAnalyticsStore store, CancellationToken ct)
    {
        async Task<QueryTable> Run(AnalystQuery query) => QueryTable.Parse(await store.QueryAsync(query.Sql, QueryTable.Format, ct));
        var segments = await Run(ProfileQueries.Segments);
        var churn = await Run(ProfileQueries.ChurnRiskDistribution);
        var lifetime = await Run(ProfileQueries.LifetimeValueByCurrency);
        var winBack = await Run(ProfileQueries.WinBackResults);
        var suppressions = await Run(ProfileQueries.WinBackSuppressions);

        var shoppers = (long)segments.RowIndexes.Sum(i => segments.Number(i, "shoppers"));
        ChartBar Bar(QueryTable table, int i, string label) => new(label, table.Number(i, "shoppers"),
            $"{table.Text(i, "shoppers")} ({Percent(table.Number(i, "share_of_shoppers"))})");

        long Count(string column) => winBack.Rows.Count == 0 ? 0 : (long)winBack.Number(0, column);
        var (sent, ordered) = (Count("win_backs_sent"), Count("ordered_within_window"));
        var interval = sent >= ConfidenceIntervals.MinimumGroup ? ConfidenceIntervals.Wilson(ordered, sent) : (Interval?)null;

        return new ProfileFigures(
            shoppers,
            [.. segments.RowIndexes.Select(i => Bar(segments, i, segments.Text(i, "segment")))],
            [.. churn.RowIndexes.Select(i => Bar(churn, i, churn.Text(i, "churn_risk")))],
            lifetime,
            new WinBackFigures(sent, ordered, Count("win_backs_suppressed"), interval),
            suppressions);
    }

    private static string Percent(double share) => double.IsFinite(share) ? (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
}
