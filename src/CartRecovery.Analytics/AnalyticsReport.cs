using System.Globalization;
using System.Net;
using System.Text;
using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>A bar of a chart: its label, the value drawn, and a caption shown next to it.</summary>
public sealed record ChartBar(string Label, double Value, string Caption, string Series = "");

/// <summary>The figures of the report, read from the store with <see cref="AnalystQueries"/>.</summary>
public sealed record ReportData(
    IReadOnlyList<ChartBar> RecoveryFunnel,
    IReadOnlyList<ChartBar> ShoppingFunnel,
    IReadOnlyList<ChartBar> RecoveryRateByStepChannel,
    QueryTable Lift,
    IReadOnlyList<ChartBar> TimeToRecovery,
    IReadOnlyList<ChartBar> OriginComparison,
    IReadOnlyList<ChartBar> AuditCompleteness,
    QueryTable Revenue,
    IReadOnlyList<HeadlineFigure> Headline,
    QueryTable RevenueByCurrency,
    IReadOnlyList<(AnalystQuery Query, QueryTable Table)>? Compliance = null,
    IReadOnlyList<(string Label, string Value)>? ClosedLoop = null,
    IReadOnlyList<(AnalystQuery Query, QueryTable Table)>? Feedback = null,
    ProfileFigures? Profiles = null,
    IReadOnlyList<ScoreAuc>? ScoreRanking = null);

/// <summary>
/// The analytics report: one self-contained HTML file (inline CSS and SVG drawn here, no script, no network), so
/// it opens anywhere, can be mailed, and renders the same in a headless browser. Every bar carries its figure in
/// data attributes (<c>data-chart</c>, <c>data-label</c>, <c>data-value</c>), which is what tests assert on.
/// </summary>
public static partial class AnalyticsReport
{
    public static async Task<ReportData> ReadAsync(IAnalyticsStore store, CancellationToken ct)
    {
        async Task<QueryTable> Run(AnalystQuery query) => QueryTable.Parse(await store.QueryAsync(query.Sql, QueryTable.Format, ct));

        var recoveryFunnel = await Run(AnalystQueries.RecoveryFunnel);
        var shoppingFunnel = await Run(AnalystQueries.ShoppingFunnel);
        var byDay = await Run(AnalystQueries.RecoveryRateByDayStepChannel);
        var lift = await Run(AnalystQueries.LiftVsHoldout);
        var time = await Run(AnalystQueries.TimeToRecovery);
        var origin = await Run(AnalystQueries.OriginComparison);
        var audit = await Run(AnalystQueries.AuditCompleteness);
        var revenue = await Run(AnalystQueries.RevenueRecovered);
        var revenueByCurrency = await Run(AnalystQueries.RevenueRecoveredByCurrency);
        var headline = await HeadlineFigures.ReadAsync(store, ct);
        // Judged against the default policy's rules; `./run.sh compliance --policy FILE` judges against another.
        var compliance = new List<(AnalystQuery, QueryTable)>();
        foreach (var query in ComplianceQueries.For(Domain.Policy.PolicyFile.LoadDefault())) compliance.Add((query, await Run(query)));

        // The by-day query answers the daily question; the chart sums the days per step and channel.
        var rateBars = byDay.RowIndexes
            .GroupBy(i => (Step: byDay.Text(i, "step"), Channel: byDay.Text(i, "channel")))
            .OrderBy(g => g.Key.Step, StringComparer.Ordinal).ThenBy(g => g.Key.Channel, StringComparer.Ordinal)
            .Select(g =>
            {
                var reminders = g.Sum(i => byDay.Number(i, "reminders"));
                var recoveries = g.Sum(i => byDay.Number(i, "recoveries"));
                var rate = reminders == 0 ? 0 : recoveries / reminders;
                return new ChartBar($"step {g.Key.Step} · {g.Key.Channel}", Math.Round(rate, 4), $"{Percent(rate)} ({recoveries:0} of {reminders:0})");
            }).ToList();

        var originBars = origin.RowIndexes.SelectMany(i => new[]
        {
            new ChartBar(origin.Text(i, "origin_channel"), origin.Number(i, "abandonment_rate"),
                $"{Percent(origin.Number(i, "abandonment_rate"))} of {origin.Text(i, "carts")} carts abandoned", "abandonment"),
            new ChartBar(origin.Text(i, "origin_channel"), origin.Number(i, "recovered_share_of_abandoned"),
                $"{Percent(origin.Number(i, "recovered_share_of_abandoned"))} of {origin.Text(i, "abandoned")} abandoned recovered", "recovery"),
        }).ToList();

        // A share of nothing (no reminder, no suppression) is no bar: 0/0 is not a figure.
        var auditBars = audit.Rows.Count == 0 ? [] : new List<ChartBar>
        {
            new("reminders with consent evidence", audit.Number(0, "consent_evidence_share"),
                $"{Percent(audit.Number(0, "consent_evidence_share"))} ({audit.Text(0, "reminders_with_consent_evidence")} of {audit.Text(0, "reminders")})"),
            new("suppressions with a reason", audit.Number(0, "reason_share"),
                $"{Percent(audit.Number(0, "reason_share"))} ({audit.Text(0, "suppressions_with_reason")} of {audit.Text(0, "suppressions")})"),
        }.Where(b => double.IsFinite(b.Value)).ToList();

        var feedback = new List<(AnalystQuery, QueryTable)>();
        foreach (var query in FeedbackQueries.All) feedback.Add((query, FigureIntervals.WithIntervalColumn(query, await Run(query))));

        return new ReportData(
            recoveryFunnel.RowIndexes.Select(i => new ChartBar(recoveryFunnel.Text(i, "stage"), recoveryFunnel.Number(i, "carts"), recoveryFunnel.Text(i, "carts") + " carts")).ToList(),
            shoppingFunnel.RowIndexes.Select(i => new ChartBar(shoppingFunnel.Text(i, "step"), shoppingFunnel.Number(i, "sessions"),
                $"{shoppingFunnel.Text(i, "sessions")} ({Percent(shoppingFunnel.Number(i, "conversion_from_previous"))} of previous)")).ToList(),
            rateBars,
            lift,
            time.RowIndexes.Select(i => new ChartBar(time.Text(i, "time_to_recovery"), time.Number(i, "recovered_carts"),
                $"{time.Text(i, "recovered_carts")} carts, {Money(time.Number(i, "revenue_recovered"))}")).ToList(),
            originBars,
            auditBars,
            revenue,
            headline,
            revenueByCurrency,
            compliance,
            await ClosedLoopFigures.ReadAsync(store, ct),
            feedback,
            await ProfileFigures.ReadAsync(store, ct),
            await Analytics.ScoreRanking.ReadAsync(store, ct));
    }

    public static async Task<string> RenderAsync(IAnalyticsStore store, CancellationToken ct) => Render(await ReadAsync(store, ct));

    public static string Render(ReportData data)
    {
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>CartRecovery analytics report</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:32px auto;max-width:1100px;color:#1f2933;background:#fff}
            h1{font-size:26px;margin-bottom:4px} h2{font-size:18px;margin:0 0 4px} p.q{color:#52606d;margin:0 0 12px;font-size:14px}
            section{border:1px solid #e4e7eb;border-radius:8px;padding:16px 20px;margin:16px 0}
            .kpis{display:flex;gap:16px;flex-wrap:wrap} .kpi{background:#f5f7fa;border-radius:6px;padding:10px 14px;min-width:150px}
            .kpi b{display:block;font-size:22px} .kpi span{font-size:12px;color:#52606d}
            table{border-collapse:collapse;font-size:14px} td,th{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right} th:first-child,td:first-child{text-align:left}
            svg text{font-size:13px;fill:#1f2933} svg .caption{fill:#52606d;font-size:12px}
            </style></head><body>
            <h1>CartRecovery analytics report</h1>
            <p class="q">Attributed recoveries, lift against the holdout, funnels and audit completeness, from the analytics store.</p>
            """);
        html.Append(Section("headline", "Headline figures",
            "Sessions, orders, abandoned carts and what became of them, triggers and suppressions: the figures the run summary and the backtest show, from the same query.",
            Figures(data.Headline) + Table(data.RevenueByCurrency, "revenue-by-currency", "No recovered revenue.")));
        html.Append(Section("recovery-funnel", "Recovery funnel",
            "Abandoned carts outside the holdout → got a reminder → ordered after it within the attribution window (windowFunnel).",
            BarChart("recovery-funnel", data.RecoveryFunnel, "#2f6fde", percent: false)));
        // One name per ratio: "recovery rate" is recovered / remindable carts (closed loop); this one is per reminder.
        html.Append(Section("recovery-rate", "Last-touch rate by step and channel",
            "Share of reminders that were the last touch before a recovered order (recovered orders / reminders sent).",
            BarChart("recovery-rate", data.RecoveryRateByStepChannel, "#1f9d74", percent: true)));
        html.Append(Section("lift", "Lift vs holdout", "Conversion of abandoned carts within the attribution window: reminded group vs holdout (no message), 95% confidence interval (Newcombe's hybrid score; none with fewer than 10 carts in a group).",
            LiftChart(data.Lift)));
        html.Append(Section("time-to-recovery", "Time to recovery", "Time from abandonment to the recovered order.",
            BarChart("time-to-recovery", data.TimeToRecovery, "#8a5cd6", percent: false)));
        html.Append(Section("origin", "Abandonment and recovery by channel of origin", "Share of carts abandoned, and of abandoned carts recovered, by where the session came from.",
            BarChart("origin", data.OriginComparison, "#d9822b", percent: true)));
        html.Append(Section("shopping-funnel", "Shopping funnel", "Sessions reaching each step (furthest step per session; an order counts as passing checkout and payment).",
            BarChart("shopping-funnel", data.ShoppingFunnel, "#3b82a0", percent: false)));
        html.Append(Section("audit", "Audit-trail completeness", "Reminders whose audit row carries the consent relied on; suppressions with a reason code.",
            BarChart("audit", data.AuditCompleteness, "#5b7083", percent: true)));
        foreach (var (query, table) in data.Compliance ?? [])
            html.Append(Section(query.Name, query.Name.Replace('-', ' '), query.Question, Table(table, query.Name, "No data.")));
        html.Append(Section("revenue", "Revenue recovered", "By currency, last-touch step and channel.", Table(data.Revenue, "revenue", "No recovered carts.")));
        if (data.ClosedLoop is { Count: > 0 } loop)
            html.Append(Section("closed-loop", "The closed loop", "Outcomes reported back: each figure with the count it is a share of.",
                "<table data-table=\"closed-loop\">" + string.Concat(loop.Select(f => $"<tr><th>{E(f.Label.Trim())}</th><td>{E(f.Value)}</td></tr>")) + "</table>"));
        foreach (var (query, table) in data.Feedback ?? [])
            html.Append(Section(query.Name, query.Name.Replace('-', ' '), query.Question, Table(table, query.Name, "No outcomes reported yet.")));
        if (data.ScoreRanking is { } ranking) html.Append(ScoreRankingSection(ranking));
        if (data.Profiles is { } profiles) html.Append(ProfilesSection(profiles));
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static string Section(string id, string title, string question, string body) =>
        $"<section id=\"{id}\"><h2>{E(title)}</h2><p class=\"q\">{E(question)}</p>{body}</section>\n";

    /// <summary>Horizontal bars; a second series (if any) is drawn in a lighter shade under the same label.</summary>
    private static string BarChart(string chart, IReadOnlyList<ChartBar> bars, string color, bool percent)
    {
        if (bars.Count == 0) return $"<p data-chart=\"{chart}\" data-empty=\"true\">No data.</p>";
        const int labelWidth = 230, barArea = 520, rowHeight = 26, top = 8;
        var max = percent ? Math.Max(1.0, bars.Max(b => b.Value)) : Math.Max(1e-9, bars.Max(b => b.Value));
        var series = bars.Select(b => b.Series).Distinct().ToList();
        var height = top * 2 + bars.Count * rowHeight;
        var svg = new StringBuilder($"<svg data-chart=\"{chart}\" role=\"img\" width=\"1000\" height=\"{height}\" viewBox=\"0 0 1000 {height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var y = top + i * rowHeight;
            var width = double.IsFinite(bar.Value) ? Math.Max(1, bar.Value / max * barArea) : 1;
            var fill = series.IndexOf(bar.Series) == 0 ? color : Lighter(color);
            var label = bar.Series.Length > 0 && series.Count > 1 ? $"{bar.Label} · {bar.Series}" : bar.Label;
            svg.Append(CultureInfo.InvariantCulture,
                $"<g><text x=\"{labelWidth - 8}\" y=\"{y + 17}\" text-anchor=\"end\">{E(label)}</text>" +
                $"<rect class=\"bar\" data-label=\"{E(bar.Label)}\" data-series=\"{E(bar.Series)}\" data-value=\"{Invariant(bar.Value)}\" x=\"{labelWidth}\" y=\"{y + 3}\" width=\"{width:0.#}\" height=\"{rowHeight - 8}\" rx=\"3\" fill=\"{fill}\"/>" +
                $"<text class=\"caption\" x=\"{labelWidth + width + 8:0.#}\" y=\"{y + 17}\">{E(bar.Caption)}</text></g>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static string LiftChart(QueryTable lift)
    {
        if (lift.Rows.Count == 0 || lift.Number(0, "treated_carts") == 0) return "<p data-chart=\"lift\" data-empty=\"true\">No data.</p>";
        var treated = lift.Number(0, "treated_rate");
        var holdout = lift.Number(0, "holdout_rate");
        var delta = lift.Number(0, "lift");
        var ci = FigureIntervals.Lift(lift);
        var kpis = $"<div class=\"kpis\">" +
                   $"<div class=\"kpi\"><b>{Percent(treated)}</b><span>reminded group converted ({lift.Text(0, "treated_converted")} of {lift.Text(0, "treated_carts")})</span></div>" +
                   $"<div class=\"kpi\"><b>{Percent(holdout)}</b><span>holdout converted ({lift.Text(0, "holdout_converted")} of {lift.Text(0, "holdout_carts")})</span></div>" +
                   $"<div class=\"kpi\"><b>{Points(delta)}</b><span>lift, {E(ConfidenceIntervals.Describe(ci, Points))}</span></div></div>";
        var rates = BarChart("lift", [new ChartBar("reminded", Math.Round(treated, 4), Percent(treated)), new ChartBar("holdout", Math.Round(holdout, 4), Percent(holdout))], "#2f6fde", percent: true);
        if (ci is not { Low: var low, High: var high })
            return kpis + rates + $"<p data-chart=\"lift-interval\" data-empty=\"true\">{E(ConfidenceIntervals.Describe(null, Points))}</p>";

        // The interval on a -100..+100 point axis with zero marked: whether it crosses zero is what matters.
        double X(double v) => 500 + Math.Clamp(double.IsFinite(v) ? v : 0, -1, 1) * 400;
        var interval = new StringBuilder("<svg data-chart=\"lift-interval\" width=\"1000\" height=\"70\" viewBox=\"0 0 1000 70\" xmlns=\"http://www.w3.org/2000/svg\">");
        interval.Append(CultureInfo.InvariantCulture, $"<line x1=\"100\" y1=\"35\" x2=\"900\" y2=\"35\" stroke=\"#cbd2d9\"/><line x1=\"500\" y1=\"15\" x2=\"500\" y2=\"55\" stroke=\"#9aa5b1\" stroke-dasharray=\"4 3\"/>");
        interval.Append(CultureInfo.InvariantCulture,
            $"<line class=\"ci\" data-low=\"{Invariant(low)}\" data-high=\"{Invariant(high)}\" x1=\"{X(low):0.#}\" y1=\"35\" x2=\"{X(high):0.#}\" y2=\"35\" stroke=\"#2f6fde\" stroke-width=\"6\" stroke-linecap=\"round\"/>");
        interval.Append(CultureInfo.InvariantCulture, $"<circle class=\"point\" data-value=\"{Invariant(delta)}\" cx=\"{X(delta):0.#}\" cy=\"35\" r=\"8\" fill=\"#1f2933\"/>");
        interval.Append("<text x=\"100\" y=\"65\">−100 pts</text><text x=\"490\" y=\"65\">0</text><text x=\"850\" y=\"65\">+100 pts</text></svg>");
        return kpis + rates + interval;
    }

    /// <summary>The headline figures as KPI boxes; <c>data-figure</c> and <c>data-value</c> carry each figure for tests.</summary>
    private static string Figures(IReadOnlyList<HeadlineFigure> figures)
    {
        var html = new StringBuilder("<div class=\"kpis\">");
        foreach (var figure in figures)
            html.Append($"<div class=\"kpi\" data-figure=\"{E(figure.Column)}\" data-value=\"{E(figure.Value)}\"><b>{E(figure.Value)}</b><span>{E(figure.Label.Trim())}</span></div>");
        return html.Append("</div>").ToString();
    }

    private static string Table(QueryTable table, string name, string empty)
    {
        if (table.Rows.Count == 0) return $"<p data-table=\"{name}\" data-empty=\"true\">{E(empty)}</p>";
        var html = new StringBuilder($"<table data-table=\"{name}\"><tr>");
        foreach (var c in table.Columns) html.Append($"<th>{E(c)}</th>");
        html.Append("</tr>");
        foreach (var row in table.Rows)
        {
            html.Append("<tr>");
            // ClickHouse prints a ratio of nothing (0/0) as nan: the reader sees n/a.
            foreach (var cell in row) html.Append($"<td>{E(cell is "nan" or "-nan" or "inf" or "-inf" ? "n/a" : cell)}</td>");
            html.Append("</tr>");
        }
        return html.Append("</table>").ToString();
    }

    private static string Lighter(string hex)
    {
        var rgb = Convert.FromHexString(hex.TrimStart('#'));
        return "#" + Convert.ToHexString([.. rgb.Select(c => (byte)(c + (255 - c) / 2))]);
    }

    private static string Percent(double share) => double.IsFinite(share) ? (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";

    private static string Points(double share) => double.IsFinite(share) ? (share * 100).ToString("+0.0;−0.0;0.0", CultureInfo.InvariantCulture) + " pts" : "n/a";

    private static string Money(double value) => value.ToString("N2", CultureInfo.InvariantCulture);

    private static string Invariant(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
