using System.Collections.Immutable;
using System.Globalization;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Scoring;

public readonly record struct RiskFactor(string Name, double Contribution)
{
    public override string ToString() => $"{Name}:{Contribution.ToString("+0.00;-0.00", CultureInfo.InvariantCulture)}";
}

public sealed record RiskScore(double Value, ImmutableArray<RiskFactor> Factors)
{
    /// <summary>The factors that moved the score most, as "name:+0.42", strongest first.</summary>
    public ImmutableArray<string> Top(int count = 3) =>
        [.. Factors.Where(f => f.Contribution != 0).OrderByDescending(f => Math.Abs(f.Contribution)).ThenBy(f => f.Name, StringComparer.Ordinal)
            .Take(count).Select(f => f.ToString())];
}

/// <summary>
/// Abandonment risk in [0, 1]: a logistic model over explainable factors. Weights come from the policy file.
/// Each factor's contribution (weight × input) is kept, so every trigger and audit row can say what moved it.
/// </summary>
public static class RiskModel
{
    public static RiskScore Score(SessionState session, DateTimeOffset at, TimeSpan inactivityTimeout, RiskWeights w)
    {
        var idle = Math.Clamp((at - session.LastActivityAt) / inactivityTimeout, 0, 3);
        var valueRatio = (double)(session.CartValue / w.TypicalCartValue);
        var factors = ImmutableArray.Create(
            new RiskFactor("idle", w.Idle * idle),
            new RiskFactor("funnel_step", w.FunnelStep.GetValueOrDefault(StepName(session.FurthestStep))),
            new RiskFactor("payment_failures", w.PaymentFailures * Math.Min(session.PaymentFailures, 3)),
            new RiskFactor("cart_value", w.CartValue * Math.Log(1 + valueRatio)),
            new RiskFactor("item_count", w.ItemCount * Math.Log(1 + session.ItemCount)),
            new RiskFactor("returning_shopper", session.ReturningShopper ? w.ReturningShopper : 0),
            new RiskFactor("origin_channel", w.OriginChannel.GetValueOrDefault(session.OriginChannel)));
        var logit = w.Bias + factors.Sum(f => f.Contribution);
        return new RiskScore(Math.Round(1 / (1 + Math.Exp(-logit)), 4), factors);
    }

    public static string StepName(FunnelStep step) => step switch
    {
        FunnelStep.Browsing => "browsing",
        FunnelStep.Cart => "cart",
        FunnelStep.Checkout => "checkout",
        _ => "payment",
    };
}
