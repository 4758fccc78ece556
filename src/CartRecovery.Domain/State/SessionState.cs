using System.Collections.Immutable;
using CartRecovery.Contracts.Events;

namespace CartRecovery.Domain.State;

/// <summary>Furthest point of the purchase funnel a session reached.</summary>
public enum FunnelStep { Browsing, Cart, Checkout, Payment }

public enum SessionPhase { Active, Abandoned }

/// <summary>The windowed state of one shopping session: cart, funnel progress, activity, and where it is in
/// the recovery sequence. Immutable; changed only by <see cref="Decisions.RecoveryEngine"/>.</summary>
public sealed record SessionState
{
    public required string ShopperId { get; init; }
    public required string SessionId { get; init; }
    public required string OriginChannel { get; init; }
    public required string Currency { get; init; }
    public required string TimeZone { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset LastActivityAt { get; init; }
    private readonly ImmutableSortedDictionary<string, CartLine> _lines = OrdinalEmpty.Sorted<CartLine>();

    /// <summary>The cart by SKU. Its value and item count are computed once per change: scoring reads them on every event.</summary>
    public ImmutableSortedDictionary<string, CartLine> Lines
    {
        get => _lines;
        init
        {
            _lines = value;
            decimal total = 0;
            var items = 0;
            // The dictionary's own (struct) enumerator, in key order as Values: Values allocated an iterator and an enumerator.
            foreach (var (_, line) in value)
            {
                total += line.Total;
                items += line.Quantity;
            }
            CartValue = total;
            ItemCount = items;
        }
    }
    /// <summary>Set when a line in another currency joined a non-empty cart: its value cannot be stated in one currency,
    /// so it is compared with no threshold and reported as <see cref="MixedCurrency"/>. Cleared when the cart empties.</summary>
    public bool MixedCurrencies { get; init; }
    /// <summary>Which of <see cref="TimeZone"/> and <see cref="Currency"/> came from the policy's defaults because the
    /// input never named them: the decisions that rely on them say so in their audit rows.</summary>
    public bool TimeZoneFromPolicy { get; init; }
    public bool CurrencyFromPolicy { get; init; }
    public bool HadCart { get; init; }
    public FunnelStep FurthestStep { get; init; }
    public int PaymentFailures { get; init; }
    public ImmutableArray<string> PaymentErrorCodes { get; init; } = [];
    public bool ReturningShopper { get; init; }
    public SessionPhase Phase { get; init; }
    /// <summary>How many times this session was abandoned; part of trigger ids, so a resumed and re-abandoned cart gets new ones.</summary>
    public int Abandonments { get; init; }
    /// <summary>How many times the session was reopened after it finished; part of the proactive-chat id (one chat per visit).</summary>
    public int Visits { get; init; }
    public DateTimeOffset? AbandonedAt { get; init; }
    public string AbandonCause { get; init; } = "";
    public string Segment { get; init; } = "";
    public string Variant { get; init; } = "";
    public bool Holdout { get; init; }

    /// <summary>The outcome row of this session as it ended with an order, when the shopper came back to it afterwards
    /// (a view after paying, a late app event): the row re-emitted under the same key when it ends again keeps the order,
    /// or FINAL would show the session without it.</summary>
    public Contracts.Outputs.SessionOutcome? EarlierOrder { get; init; }
    /// <summary>Index of the next reminder step of the segment.</summary>
    public int NextStep { get; init; }
    /// <summary>Set when the next step fell into quiet hours: when it may go instead.</summary>
    public DateTimeOffset? DeferredUntil { get; init; }
    public int RemindersSent { get; init; }
    /// <summary>When the latest reminder of the current recovery case went out: an event older than that which arrives
    /// now is late news, not the shopper coming back (resuming would send that step again).</summary>
    public DateTimeOffset? LastReminderAt { get; init; }
    /// <summary>Set after the last step when that step issued an incentive code: the case stays open until the
    /// code expires, so the expiry is voided and audited at its time.</summary>
    public DateTimeOffset? IncentiveExpiresAt { get; init; }
    public bool ProactiveChatSent { get; init; }
    public string LastEventId { get; init; } = "";
    public double Score { get => _score; init => _score = value; }
    private double _score;
    /// <summary>The risk score when the cart was left: it sets the urgency of the steps' timing (a step with a
    /// latest_delay falls due earlier the higher it is), fixed for the case so its deadlines do not move.</summary>
    public double UrgencyScore { get; init; }
    /// <summary>The top factors of <see cref="UrgencyScore"/>: with it, what the case's reminders and their audit rows show
    /// as the score that decided (empty in a checkpoint from before it was kept: the factors at send time are shown).</summary>
    public ImmutableArray<string> UrgencyFactors { get; init; } = [];
    /// <summary>The shopper's profile segment (new, active, at_risk, lapsed) when the session opened; policy segments may match on it.</summary>
    public string ShopperSegment { get; init; } = "";
    public ImmutableArray<string> TopFactors { get => _topFactors; init => _topFactors = value; }
    private ImmutableArray<string> _topFactors = [];

    /// <summary>Sets <see cref="Score"/> and <see cref="TopFactors"/> of a copy its caller has just made and not yet handed
    /// to anyone (<see cref="Decisions.SessionEvolution.RescoreCopy"/>): the engine rescores after every event, and doing
    /// it with <c>with</c> copied the ~40-field record a second time per event (docs/performance.md, session 10). Never on
    /// a state that anything else may hold: to everyone else the record stays immutable.</summary>
    internal void ScoreOwnCopy(double score, ImmutableArray<string> topFactors)
    {
        _score = score;
        _topFactors = topFactors;
    }
    /// <summary>Product views in this session by category (at most <see cref="MaxViewedCategories"/>): what a
    /// browse-abandonment message names.</summary>
    public ImmutableSortedDictionary<string, int> ViewedCategories { get; init; } = OrdinalEmpty.Sorted<int>();
    /// <summary>The session's browse-abandonment message was decided (sent, suppressed or cancelled): at most one per visit.</summary>
    public bool BrowseDecided { get; init; }
    /// <summary>Set when the browse-abandonment message fell into quiet hours: when it may go instead.</summary>
    public DateTimeOffset? BrowseDeferredUntil { get; init; }

    public const int MaxViewedCategories = 8;

    public decimal CartValue { get; private init; }
    public int ItemCount { get; private init; }
    public bool HasCart => !Lines.IsEmpty;

    /// <summary>The currency reported for a cart mixing currencies (its value is then reported as 0).</summary>
    public const string MixedCurrency = "mixed";
}
