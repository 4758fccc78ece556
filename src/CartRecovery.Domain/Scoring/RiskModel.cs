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
    public ImmutableArray<string> Top(int count = 3)
    {
        // Runs on every event: a small array sort rather than a LINQ pipeline.
        var moved = new RiskFactor[Factors.Length];
        var n = 0;
        foreach (var factor in Factors)
            if (factor.Contribution != 0) moved[n++] = factor;
        Array.Sort(moved, 0, n, StrongestFirst);
        var top = ImmutableArray.CreateBuilder<string>(Math.Min(count, n));
        for (var i = 0; i < n && i < count; i++) top.Add(State.SharedStrings.Of(moved[i].ToString()));
        return top.MoveToImmutable();
    }

    private static readonly Comparer<RiskFactor> StrongestFirst = Comparer<RiskFactor>.Create((a, b) =>
    {
        var byStrength = Math.Abs(b.Contribution).CompareTo(Math.Abs(a.Contribution));
        return byStrength != 0 ? byStrength : string.CompareOrdinal(a.Name, b.Name);
    });
}

/// <summary>
/// Abandonment risk in [0, 1]: a logistic model over explainable factors. Weights come from the policy file.
/// Each factor's contribution (weight × input) is kept, so every trigger and audit row can say what moved it.
/// </summary>
public static class RiskModel
{
    /// <summary>The score of a cart whose value is in the policy currency.</summary>
    public static RiskScore Score(SessionState session, DateTimeOffset at, TimeSpan inactivityTimeout, RiskWeights w) =>
        Score(session, session.CartValue, at, inactivityTimeout, w);

    /// <summary>The score with the cart's value in the policy currency (<see cref="RecoveryPolicy.ValueInPolicyCurrency"/>):
    /// the typical cart value is in that currency. Null when it cannot be stated in it (no exchange rate, mixed
    /// currencies): the cart_value factor is then 0, never a comparison across currencies.</summary>
    public static RiskScore Score(SessionState session, decimal? valueInPolicyCurrency, DateTimeOffset at, TimeSpan inactivityTimeout, RiskWeights w)
    {
        var idle = Math.Clamp((at - session.LastActivityAt) / inactivityTimeout, 0, 3);
        var valueRatio = valueInPolicyCurrency is { } value ? (double)(value / w.TypicalCartValue) : 0;
        var factors = ImmutableArray.Create(
            new RiskFactor("idle", w.Idle * idle),
            new RiskFactor("funnel_step", w.FunnelStep.GetValueOrDefault(StepName(session.FurthestStep))),
            new RiskFactor("payment_failures", w.PaymentFailures * Math.Min(session.PaymentFailures, 3)),
            new RiskFactor("cart_value", w.CartValue * Math.Log(1 + valueRatio)),
            new RiskFactor("item_count", w.ItemCount * Math.Log(1 + session.ItemCount)),
            new RiskFactor("returning_shopper", session.ReturningShopper ? w.ReturningShopper : 0),
            new RiskFactor("origin_channel", w.OriginChannel.GetValueOrDefault(session.OriginChannel)));
        var logit = w.Bias;
        foreach (var factor in factors) logit += factor.Contribution;
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
