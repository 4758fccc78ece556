using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>One figure of <see cref="AnalystQueries.HeadlineFigures"/>: its column and the label every output shows.</summary>
public sealed record HeadlineFigure(string Column, string Label, string Value);

/// <summary>
/// The figures the run summary, the HTML report and the backtest share, read with the one query that defines them
/// (<see cref="AnalystQueries.HeadlineFigures"/>, over the recovery_outcomes view), and revenue per currency
/// (<see cref="AnalystQueries.RevenueRecoveredByCurrency"/>): no output computes any of them its own way.
/// </summary>
public static class HeadlineFigures
{
    /// <summary>Columns of the headline query in the order and with the labels outputs show them ("  " = part of the line above).</summary>
    public static IReadOnlyList<(string Column, string Label)> Labels { get; } =
    [
        ("sessions", "sessions"),
        ("orders", "orders"),
        ("carts_abandoned", "carts abandoned"),
        ("carts_converted", "  of which converted"),
        ("carts_recovered", "  of which recovered"),
        ("carts_in_holdout", "  of which holdout"),
        ("triggers", "triggers emitted"),
        ("reminders", "  reminders"),
        ("proactive_chats", "  proactive chat"),
        ("suppressions", "suppressions"),
    ];

    public static async Task<IReadOnlyList<HeadlineFigure>> ReadAsync(IAnalyticsStore store, CancellationToken ct)
    {
        var table = QueryTable.Parse(await store.QueryAsync(AnalystQueries.HeadlineFigures.Sql, QueryTable.Format, ct));
        return [.. Labels.Select(l => new HeadlineFigure(l.Column, l.Label, table.Text(0, l.Column)))];
    }

    /// <summary>Recovered revenue per currency, as (currency, recovered carts, revenue): never one sum over currencies.</summary>
    public static async Task<IReadOnlyList<(string Currency, string Carts, string Revenue)>> RevenueAsync(IAnalyticsStore store, CancellationToken ct)
    {
        var table = QueryTable.Parse(await store.QueryAsync(AnalystQueries.RevenueRecoveredByCurrency.Sql, QueryTable.Format, ct));
        return [.. table.RowIndexes.Select(i => (table.Text(i, "currency"), table.Text(i, "recovered_carts"), table.Text(i, "revenue_recovered")))];
    }
}
