using System.Collections.Immutable;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Policy;

/// <summary>A versioned recovery policy: what to send, when, on which channel, and what stops it.
/// Loaded from a policy file (<see cref="PolicyFile"/>); every number here comes from that file.</summary>
public sealed record RecoveryPolicy
{
    public required string Version { get; init; }
    public required TimeSpan AllowedLateness { get; init; }
    /// <summary>How far ahead of the partition's event-time frontier one shopper's event may move it on its own
    /// (<see cref="Time.EventTimeFrontier"/>); further ahead, a second shopper must confirm the time.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = DefaultMaxFutureSkew;
    /// <summary>2 h: a sparse partition's next shopper after a lull of an hour or two is real traffic (field case 09);
    /// a device clock off by more (a day, a wrong year) moves nobody else's time.</summary>
    public static readonly TimeSpan DefaultMaxFutureSkew = TimeSpan.FromHours(2);
    public required TimeSpan PurchaseGrace { get; init; }
    public required TimeSpan AttributionWindow { get; init; }
    /// <summary>How long a purchased sku suppresses reminders for carts holding it.</summary>
    public required TimeSpan PurchaseMemory { get; init; }
    /// <summary>How long (event time, after the shopper's newest event) an event_id is remembered, so that a
    /// redelivered event is applied once. At least the allowed lateness.</summary>
    public required TimeSpan DedupHorizon { get; init; }
    /// <summary>Two carts of one shopper that share an item and are abandoned at most this far apart are one
    /// recovery case (one message per step). Zero turns merging off.</summary>
    public required TimeSpan DuplicateCaseWindow { get; init; }
    /// <summary>How long a pending payment holds the reminders of the carts it may pay for, unless it is resolved
    /// earlier (authorized, ordered or failed).</summary>
    public required TimeSpan PaymentPendingHold { get; init; }
    public required string DefaultTimeZone { get; init; }
    /// <summary>The policy currency: every amount in the policy (segment bounds, assist threshold, typical cart value)
    /// is in it, and a session without a currency of its own is assumed to be in it (its audit rows say so).</summary>
    public required string DefaultCurrency { get; init; }
    /// <summary>Rates into <see cref="DefaultCurrency"/>, dated; carts in a currency without a rate are never compared with
    /// the policy's amounts.</summary>
    public ExchangeRates Rates { get; init; } = ExchangeRates.None;
    public required double HoldoutShare { get; init; }
    public required ImmutableArray<Variant> Variants { get; init; }
    public required RiskWeights Risk { get; init; }
    /// <summary>Ordered: the first whose match accepts the cart wins; the last is the catch-all "default".</summary>
    public required ImmutableArray<SegmentPolicy> Segments { get; init; }
    /// <summary>Purpose statement, link templates and message templates of the reminders (docs/compliance.md).</summary>
    public MessagePolicy Messages { get; init; } = MessagePolicy.None;
    /// <summary>Token and pseudonym keys: configuration, not part of the file (<see cref="Compliance.ComplianceKeys"/>).</summary>
    public Compliance.ComplianceKeys Keys { get; init; } = Compliance.ComplianceKeys.Development;

    /// <summary>How far back in event time a decision can look: a purchase still suppresses, a reminder still counts
    /// against a cap or for attribution, or a session opened then can still have a step due. A windowed replay
    /// rebuilds the shopper state of this much history before its window.</summary>
    public TimeSpan StateHorizon =>
        new[] { PurchaseMemory, AttributionWindow }
            .Concat(Segments.Select(s => s.Caps.PerShopperWindow))
            .Concat(Segments.SelectMany(s => Variants.Select(v => v.Apply(s)))
                .Select(s => s.InactivityTimeout + (s.Steps.IsEmpty ? TimeSpan.Zero : s.Steps.Max(step => step.LatestDelay ?? step.Delay)) + PurchaseGrace))
            // A browsing session waits out the browse delay; win-back reads the profile, which a window cannot rebuild
            // (docs/replay.md).
            .Append(BrowseAbandonment.Enabled ? BrowseAbandonment.Delay : TimeSpan.Zero)
            .Max();

    /// <summary>The segment of a cart whose value is in the policy currency (null: it cannot be stated in it, so
    /// segments with value bounds do not match).</summary>
    public SegmentPolicy SegmentFor(decimal? cartValue, string originChannel, string shopperSegment = "")
    {
        foreach (var segment in Segments)
            if (segment.Match.Accepts(cartValue, originChannel, shopperSegment)) return segment;
        return Segments[^1];
    }

    /// <summary>The segment of a session's cart, its value converted into the policy currency, for the shopper's profile
    /// segment as it was when the session opened.</summary>
    public SegmentPolicy SegmentFor(SessionState session) => SegmentFor(ValueInPolicyCurrency(session), session.OriginChannel, session.ShopperSegment);

    /// <summary>Customer profiles: the typical time between orders of a shopper with fewer than two, and the horizon of the
    /// lifetime-value estimate.</summary>
    public ProfileSettings Profiles { get; init; } = ProfileSettings.Default;

    /// <summary>Browse-abandonment messages (off unless the policy file enables them).</summary>
    public BrowseAbandonmentPolicy BrowseAbandonment { get; init; } = BrowseAbandonmentPolicy.Off;

    /// <summary>Win-back messages to at-risk customers (off unless the policy file enables them).</summary>
    public WinBackPolicy WinBack { get; init; } = WinBackPolicy.Off;

    /// <summary>Survey invitations after a recovery case ends without an order (off unless the policy file enables them).</summary>
    public SurveyInvitationPolicy SurveyInvitation { get; init; } = SurveyInvitationPolicy.Off;

    /// <summary>An amount in <paramref name="currency"/> in the policy currency, or null without a rate for it.</summary>
    public decimal? InPolicyCurrency(decimal amount, string currency) =>
        currency == DefaultCurrency ? amount : Rates.Rates.TryGetValue(currency, out var rate) ? Math.Round(amount * rate, 2) : null;

    /// <summary>The session's cart value in the policy currency; null for a cart mixing currencies or in a currency
    /// the policy has no rate for. Amounts in different currencies are never added or compared as one.</summary>
    public decimal? ValueInPolicyCurrency(SessionState session) =>
        session.MixedCurrencies ? null : InPolicyCurrency(session.CartValue, session.Currency);

    /// <summary>The variant named <paramref name="name"/> (the first when none has that name: a session restored under
    /// a policy without it runs as the first variant).</summary>
    public Variant VariantNamed(string name)
    {
        foreach (var variant in Variants)
            if (variant.Name == name) return variant;
        return Variants[0];
    }

    public string VariantFor(string shopperId)
    {
        if (Variants.Length == 1) return Variants[0].Name;
        var total = Variants.Sum(v => v.Weight);
        var point = Decisions.DeterministicId.Unit("variant", Version, shopperId) * total;
        foreach (var variant in Variants)
        {
            if (point < variant.Weight) return variant.Name;
            point -= variant.Weight;
        }
        return Variants[^1].Name;
    }
}

/// <summary>An A/B variant of the policy. A variant that sets <see cref="Steps"/> (delays, incentives, thresholds) or
/// <see cref="ChannelPreference"/> replaces those of every segment for its shoppers; one that sets neither is a label.</summary>
public sealed record Variant(string Name, double Weight, ImmutableArray<ReminderStep>? Steps = null, ImmutableArray<string>? ChannelPreference = null)
{
    /// <summary>Where the variant's steps are in the policy file (check-policy names it).</summary>
    public string StepsPath { get; init; } = "";

    /// <summary>The segment as this variant runs it.</summary>
    public SegmentPolicy Apply(SegmentPolicy segment) => Steps is null && ChannelPreference is null ? segment : segment with
    {
        Steps = Steps ?? segment.Steps,
        StepsPath = Steps is null ? segment.StepsPath : StepsPath,
        ChannelPreference = ChannelPreference ?? segment.ChannelPreference,
        Caps = segment.Caps.For(Steps ?? segment.Steps),
    };
}

/// <summary>Exchange rates into the policy currency (value of one unit of each currency), as of a date.</summary>
public sealed record ExchangeRates(DateOnly? AsOf, ImmutableDictionary<string, decimal> Rates)
{
    public static readonly ExchangeRates None = new(null, ImmutableDictionary<string, decimal>.Empty);
}

/// <summary>Which carts a segment takes; value bounds are in the policy currency.</summary>
public sealed record SegmentMatch(decimal? MinCartValue, decimal? MaxCartValue, ImmutableArray<string> Channels, ImmutableArray<string> ShopperSegments = default)
{
    public static readonly SegmentMatch Any = new(null, null, []);

    /// <summary>A cart value that cannot be stated in the policy currency (null) meets no value bound. With
    /// <see cref="ShopperSegments"/>, only shoppers whose profile segment (new, active, at_risk, lapsed) is listed match.</summary>
    public bool Accepts(decimal? cartValue, string channel, string shopperSegment = "") =>
        (MinCartValue is null || cartValue >= MinCartValue) &&
        (MaxCartValue is null || cartValue < MaxCartValue) &&
        (Channels.IsDefaultOrEmpty || Channels.Contains(channel)) &&
        (ShopperSegments.IsDefaultOrEmpty || ShopperSegments.Contains(shopperSegment));
}

/// <summary>Customer-profile settings (policy key <c>profiles</c>).</summary>
/// <param name="TypicalInterval">Time between orders assumed for a shopper with fewer than two orders (churn risk, LTV).</param>
/// <param name="LifetimeHorizon">Horizon of the lifetime-value estimate.</param>
public sealed record ProfileSettings(TimeSpan TypicalInterval, TimeSpan LifetimeHorizon)
{
    public static readonly ProfileSettings Default = new(TimeSpan.FromDays(30), TimeSpan.FromDays(365));
}

/// <summary>One reminder step; <see cref="Incentive"/> is the offer its message carries, if any. A cart whose risk score is
/// below <see cref="MinScore"/> gets no message at this step (audited <c>score_below_threshold</c> with the score and its
/// factors). With <see cref="LatestDelay"/>, the step is due between <see cref="Delay"/> and it, earlier the more urgent
/// the cart (its risk score): due = abandonment + LatestDelay - score × (LatestDelay - Delay).</summary>
public sealed record ReminderStep(int Number, TimeSpan Delay, IncentiveOffer? Incentive = null, double MinScore = 0, TimeSpan? LatestDelay = null)
{
    /// <summary>The channels this step is sent on, in order (policy key <c>channel</c> or <c>channels</c>), in place of the
    /// segment's <c>channel_preference</c>; default: the segment's. Consent, bounce fallback (to the next channel listed
    /// here), caps and quiet hours apply to the step as to any other, so a sequence can go email → SMS → push.</summary>
    public ImmutableArray<string> Channels { get; init; }

    /// <summary>The segment as this step is sent under it: its channels in place of the segment's when it names any.</summary>
    public SegmentPolicy In(SegmentPolicy segment) => Channels.IsDefaultOrEmpty ? segment : segment with { ChannelPreference = Channels };

    /// <summary>The delay for a cart of risk score <paramref name="score"/> (0..1): <see cref="Delay"/> without a window.</summary>
    public TimeSpan DelayFor(double score) => LatestDelay is { } latest
        ? latest - TimeSpan.FromTicks((long)((latest - Delay).Ticks * Math.Clamp(score, 0, 1)))
        : Delay;
}

/// <summary>What an incentive code gives and how long it is valid after it is issued.</summary>
public sealed record IncentiveOffer(string Type, decimal Value, TimeSpan ValidFor);

/// <summary>The incentive types a policy may offer (policy key <c>incentive_type</c>, trigger field <c>incentive_type</c>).</summary>
public static class IncentiveTypes
{
    /// <summary>Percent off the cart; value in (0, 100].</summary>
    public const string Percent = "percent";
    /// <summary>An amount off, in the cart's currency; value &gt; 0.</summary>
    public const string FixedAmount = "fixed_amount";
    /// <summary>Free shipping; no value.</summary>
    public const string FreeShipping = "free_shipping";

    public static readonly IReadOnlyList<string> All = [Percent, FixedAmount, FreeShipping];

    /// <summary>What an offer gives, as a shopper reads it: "10 % off", "5.00 EUR off", "free shipping"; empty for no offer.
    /// Invariant culture: a message must not change with the host's locale.</summary>
    public static string Describe(string type, decimal value, string currency) => type switch
    {
        Percent => $"{value.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} % off",
        FixedAmount => $"{value.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)} {currency} off",
        FreeShipping => "free shipping",
        _ => "",
    };
}

/// <param name="PerCartFromSteps">Set when the file leaves <c>per_cart</c> out: the cap is then one message per enabled step
/// of the segment (as its variant runs it), so a step switched on is never capped by a number written for fewer steps.</param>
public sealed record Caps(int PerCart, int PerShopper, TimeSpan PerShopperWindow, bool PerCartFromSteps = false)
{
    /// <summary>These caps for a segment running <paramref name="steps"/>.</summary>
    public Caps For(ImmutableArray<ReminderStep> steps) => PerCartFromSteps ? this with { PerCart = steps.Length } : this;
}

/// <summary>Proactive chat. <see cref="HoldoutShare"/> of the carts eligible for a chat (deterministic per shopper and
/// session) get none, audited <c>chat_holdout</c>, so analysts can measure the abandonment chat prevents.</summary>
public sealed record ProactiveAssist(bool Enabled, decimal MinCartValue, TimeSpan CheckoutIdle, int PaymentFailures, double HoldoutShare = 0)
{
    /// <summary>The chat a refused promo code offers (<c>proactive_assist.promo_code_failure</c>); off when the file leaves it out.</summary>
    public PromoCodeAssist PromoCodeFailure { get; init; } = PromoCodeAssist.Off;
}

/// <summary>A proactive chat when the storefront refuses a promo code (<c>promo_code_rejected</c>) and the cart's risk score
/// right after it is at least <see cref="MinScore"/>: the shopper is still on the page, about to give up over a code, so
/// the chat is decided on the event itself, as after repeated payment failures. Once per session, like every chat.</summary>
public sealed record PromoCodeAssist(bool Enabled, double MinScore)
{
    public static readonly PromoCodeAssist Off = new(false, 0);
}

public sealed record SegmentPolicy
{
    public required string Name { get; init; }
    public required SegmentMatch Match { get; init; }
    public required TimeSpan InactivityTimeout { get; init; }
    /// <summary>Enabled steps only, in order; delays count from abandonment.</summary>
    public required ImmutableArray<ReminderStep> Steps { get; init; }
    public required ImmutableArray<string> ChannelPreference { get; init; }
    public required Caps Caps { get; init; }
    public required QuietHours QuietHours { get; init; }
    public required ProactiveAssist Assist { get; init; }
    /// <summary>Whether <see cref="ChannelPreference"/> is tried as listed (<see cref="ChannelOrders.Preference"/>) or the
    /// shopper's most engaged channel first (<see cref="ChannelOrders.Engagement"/>: opens and clicks reported back).</summary>
    public string ChannelOrder { get; init; } = ChannelOrders.Preference;
    /// <summary>Where the segment's steps and caps are in the policy file (inherited ones: where they are written), so
    /// check-policy names the key to change.</summary>
    public string StepsPath { get; init; } = "defaults.steps";
    public string CapsPath { get; init; } = "defaults.caps";

    /// <summary>The channels to try for a shopper, in order.</summary>
    public IEnumerable<string> ChannelsFor(ShopperState shopper) => ChannelOrder == ChannelOrders.Engagement
        ? ChannelPreference.OrderByDescending(c => shopper.Engagement.GetValueOrDefault(c)) // stable: ties keep the preference
        : ChannelPreference;
}

public static class ChannelOrders
{
    public const string Preference = "preference";
    public const string Engagement = "engagement";
    public static readonly IReadOnlyList<string> All = [Preference, Engagement];
}

/// <summary>Weights of the logistic abandonment-risk model; see <see cref="Scoring.RiskModel"/>.</summary>
public sealed record RiskWeights
{
    public required double Bias { get; init; }
    public required decimal TypicalCartValue { get; init; }
    public required double Idle { get; init; }
    public required double PaymentFailures { get; init; }
    public required double CartValue { get; init; }
    public required double ItemCount { get; init; }
    public required double ReturningShopper { get; init; }
    /// <summary>The weight of an explicit exit (session_exited with a cart): the shopper said they left, which a silent
    /// session only shows once its inactivity timeout passes (idle = 1 timeout). Default: the idle weight, so an exit
    /// scores as the timeout it makes unnecessary, not as a cart left 0 seconds ago.</summary>
    public double ExplicitExit { get; init; }
    public required ImmutableDictionary<string, double> FunnelStep { get; init; }
    public required ImmutableDictionary<string, double> OriginChannel { get; init; }
}
