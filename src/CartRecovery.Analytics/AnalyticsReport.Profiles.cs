using System.Globalization;
using System.Text;

namespace CartRecovery.Analytics;

/// <summary>The report's "Shopper profiles" and "Risk score against outcome" sections.</summary>
public static partial class AnalyticsReport
{
    public const string NoProfilesYet = "No profiles yet (a profile is written when a session of the shopper ends).";

    private static string ProfilesSection(ProfileFigures profiles)
    {
        var body = new StringBuilder();
        if (profiles.Shoppers == 0)
            body.Append($"<p data-profiles=\"empty\">{E(NoProfilesYet)}</p>");
        else
        {
            body.Append(CultureInfo.InvariantCulture, $"<p data-profiles=\"{profiles.Shoppers}\">{profiles.Shoppers} profiled shoppers.</p>");
            body.Append("<h3>Segments</h3>").Append(BarChart("profile-segments", profiles.Segments, "#2f6fde", percent: false));
            body.Append("<h3>Churn risk</h3>").Append(BarChart("churn-risk", profiles.ChurnRisk, "#d9822b", percent: false));
            body.Append("<h3>Lifetime value of customers, per currency</h3>")
                .Append("<p class=\"q\">Shoppers with at least one order; a prospect's lifetime value is 0. Currencies are never added together.</p>")
                .Append(Table(profiles.LifetimeValue, "lifetime-value", NoProfilesYet));
        }

        var winBack = profiles.WinBack;
        body.Append("<h3>Win-back</h3>");
        if (winBack.Sent == 0 && winBack.Suppressed == 0)
            body.Append("<p data-figure=\"win-back\" data-empty=\"true\">No win-back decided (policy <code>win_back</code> is off by default).</p>");
        else
        {
            var interval = winBack.OrderRateInterval is { } ci
                ? $"95% CI {Percent(ci.Low)}, {Percent(ci.High)}"
                : $"{ConfidenceIntervals.TooFew}: fewer than {ConfidenceIntervals.MinimumGroup} sent";
            body.Append("<div class=\"kpis\">")
                .Append(Kpi("win_backs_sent", winBack.Sent.ToString(CultureInfo.InvariantCulture), "win-backs sent"))
                .Append(Kpi("ordered_within_window", winBack.OrderedWithinWindow.ToString(CultureInfo.InvariantCulture), "followed by an order within 5 days"))
                .Append(Kpi("order_rate", Percent(winBack.OrderRate), $"of win-backs sent, {interval}"))
                .Append(Kpi("win_backs_suppressed", winBack.Suppressed.ToString(CultureInfo.InvariantCulture), "win-backs suppressed"))
                .Append("</div>")
                .Append("<p class=\"q\">Win-back has no holdout: the order rate says how many ordered after the message, not how many more than without it.</p>")
                .Append(Table(profiles.WinBackSuppressions, "win-back-suppressions", "No win-back suppressed."));
        }
        return Section("profiles", "Shopper profiles",
            "Shoppers per profile segment, churn risk, estimated lifetime value per currency (shopper_profiles), and what the win-back messages brought.",
            body.ToString());
    }

    private static string ScoreRankingSection(IReadOnlyList<ScoreAuc> ranking)
    {
        var html = new StringBuilder("<table data-table=\"score-ranking\"><tr><th>score</th><th>carts</th><th>lost</th><th>converted</th><th>ROC AUC</th></tr>");
        foreach (var score in ranking)
        {
            var r = score.Result;
            var auc = r.Auc is { } value ? value.ToString("R", CultureInfo.InvariantCulture) : AucResult.Undefined;
            html.Append(CultureInfo.InvariantCulture,
                $"<tr data-score=\"{E(score.ScoreKind)}\" data-auc=\"{auc}\"><td>{E(score.Description)}</td><td>{r.Positives + r.Negatives}</td><td>{r.Positives}</td>" +
                $"<td>{r.Negatives}</td><td>{E(r.Describe("lost", "converted"))}</td></tr>");
        }
        return Section("score-ranking", "Risk score against outcome (ROC AUC)",
            "How well does each risk score rank the abandoned carts that were later lost (not converted within the attribution window) above those that converted? Area under the ROC curve: 0.5 = chance, above 0.5 = riskier carts were lost more often; undefined when every cart is in one class.",
            html.Append("</table>").ToString());
    }

    private static string Kpi(string figure, string value, string label) =>
        $"<div class=\"kpi\" data-figure=\"{E(figure)}\" data-value=\"{E(value)}\"><b>{E(value)}</b><span>{E(label)}</span></div>";
}
