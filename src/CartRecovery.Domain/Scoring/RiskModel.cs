using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Scoring;

public readonly record struct RiskFactor(string Name, double Contribution)
{
    private const string ContributionFormat = "+0.00;-0.00";

    public override string ToString() => $"{Name}:{Contribution.ToString(ContributionFormat, CultureInfo.InvariantCulture)}";

    /// <summary>The shared instance of <see cref="ToString"/>'s text, formatted on the stack: no string per event once
    /// the label was seen (a handful of distinct labels).</summary>
    public string SharedLabel()
    {
        Span<char> text = stackalloc char[Name.Length + 40];
        Name.CopyTo(text);
        text[Name.Length] = ':';
        Contribution.TryFormat(text[(Name.Length + 1)..], out var written, ContributionFormat, CultureInfo.InvariantCulture);
        return State.SharedStrings.Of(text[..(Name.Length + 1 + written)]);
    }
}

public sealed record RiskScore(double Value, ImmutableArray<RiskFactor> Factors)
{
    /// <summary>The factors that moved the score most, as "name:+0.42", strongest first.</summary>
    public ImmutableArray<string> Top(int count = 3) => RiskModel.Top(Factors.AsSpan(), count, []);
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
        var factors = new Factors();
        var value = Score(session, valueInPolicyCurrency, at, inactivityTimeout, w, ref factors);
        return new RiskScore(value, [.. (ReadOnlySpan<RiskFactor>)factors]);
    }

    /// <summary>The score and its top factors without the intermediate objects (the engine rescores on every event):
    /// <paramref name="previousTop"/> is returned when the top factors did not change, so no new array either.</summary>
    public static double Score(SessionState session, decimal? valueInPolicyCurrency, DateTimeOffset at, TimeSpan inactivityTimeout, RiskWeights w,
        ImmutableArray<string> previousTop, out ImmutableArray<string> top)
    {
        var factors = new Factors();
        var value = Score(session, valueInPolicyCurrency, at, inactivityTimeout, w, ref factors);
        top = Top(factors, TopCount, previousTop);
        return value;
    }

    /// <summary>How many factors a session keeps as its explanation.</summary>
    public const int TopCount = 3;

    private static double Score(SessionState session, decimal? valueInPolicyCurrency, DateTimeOffset at, TimeSpan inactivityTimeout, RiskWeights w,
        ref Factors factors)
    {
        var idle = Math.Clamp((at - session.LastActivityAt) / inactivityTimeout, 0, 3);
        var valueRatio = valueInPolicyCurrency is { } value ? (double)(value / w.TypicalCartValue) : 0;
        factors[0] = new RiskFactor("idle", w.Idle * idle);
        factors[1] = new RiskFactor("funnel_step", w.FunnelStep.GetValueOrDefault(StepName(session.FurthestStep)));
        factors[2] = new RiskFactor("payment_failures", w.PaymentFailures * Math.Min(session.PaymentFailures, 3));
        factors[3] = new RiskFactor("cart_value", w.CartValue * Math.Log(1 + valueRatio));
        factors[4] = new RiskFactor("item_count", w.ItemCount * Math.Log(1 + session.ItemCount));
        factors[5] = new RiskFactor("returning_shopper", session.ReturningShopper ? w.ReturningShopper : 0);
        factors[6] = new RiskFactor("origin_channel", w.OriginChannel.GetValueOrDefault(session.OriginChannel));
        // An exit is the abandonment signal a silent session gives only when its timeout passes: at the exit the idle
        // term is 0, so without this an exited checkout cart scored below a cart left silently.
        factors[7] = new RiskFactor("explicit_exit", session.AbandonCause == Decisions.DecisionReason.ExplicitExit ? w.ExplicitExit : 0);
        var logit = w.Bias;
        foreach (var factor in factors) logit += factor.Contribution;
        return Math.Round(1 / (1 + Math.Exp(-logit)), 4);
    }

    /// <summary>The factors that moved the score most, as "name:+0.42", strongest first; <paramref name="previous"/> when equal.</summary>
    internal static ImmutableArray<string> Top(ReadOnlySpan<RiskFactor> factors, int count, ImmutableArray<string> previous)
    {
        var moved = new Factors();
        var n = 0;
        foreach (var factor in factors)
            if (factor.Contribution != 0) moved[n++] = factor;
        Span<RiskFactor> sorted = moved;
        // A total order (names are distinct), so any sort gives the same result.
        sorted[..n].Sort(StrongestFirst);
        var length = Math.Min(count, n);
        var labelBuffer = new Labels();
        Span<string?> labels = labelBuffer;
        var same = !previous.IsDefault && previous.Length == length;
        for (var i = 0; i < length; i++)
        {
            labels[i] = sorted[i].SharedLabel();
            same = same && string.Equals(previous[i], labels[i], StringComparison.Ordinal);
        }
        if (same) return previous;
        var top = new string[length];
        for (var i = 0; i < length; i++) top[i] = labels[i]!;
        return ImmutableCollectionsMarshal.AsImmutableArray(top);
    }

    private static readonly Comparison<RiskFactor> StrongestFirst = (a, b) =>
    {
        var byStrength = Math.Abs(b.Contribution).CompareTo(Math.Abs(a.Contribution));
        return byStrength != 0 ? byStrength : string.CompareOrdinal(a.Name, b.Name);
    };

    /// <summary>The model's factors, on the stack.</summary>
    [System.Runtime.CompilerServices.InlineArray(FactorCount)]
    private struct Factors
    {
        private RiskFactor _first;
    }

    [System.Runtime.CompilerServices.InlineArray(FactorCount)]
    private struct Labels
    {
        private string? _first;
    }

    private const int FactorCount = 8;

    public static string StepName(FunnelStep step) => step switch
    {
        FunnelStep.Browsing => "browsing",
        FunnelStep.Cart => "cart",
        FunnelStep.Checkout => "checkout",
        _ => "payment",
    };
}
