using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Scoring;
using CartRecovery.Domain.State;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// How one session's state evolves: opened by its first event, reopened when a finished session's shopper comes back,
/// changed by each storefront event (cart lines, funnel step, currency, payment failures) and rescored. Knows nothing
/// of recovery cases, consent or the rows the engine emits, so the session actor can keep and score its own state
/// with exactly the rules the engine decides with.
/// </summary>
public sealed class SessionEvolution(RecoveryPolicy policy)
{
    public RecoveryPolicy Policy { get; } = policy;

    /// <summary>A new session, opened by its first event; unknown settings are the policy's defaults (and marked so).</summary>
    public SessionState Open(ShopperState shopper, SessionEvent evt) => new()
    {
        ShopperId = shopper.ShopperId,
        SessionId = evt.SessionId,
        OriginChannel = SharedStrings.Of(evt.Channel),
        Currency = Policy.DefaultCurrency,
        TimeZone = Policy.DefaultTimeZone,
        CurrencyFromPolicy = true,
        TimeZoneFromPolicy = true,
        StartedAt = evt.EventTime,
        LastActivityAt = evt.EventTime,
        ReturningShopper = shopper.HasOrdered,
        ShopperSegment = Profiles.ProfileRows.SegmentOf(shopper, Policy, evt.EventTime),
    };

    /// <summary>A finished session the shopper came back to: same identity (start), next visit.</summary>
    public static SessionState Reopen(ClosedSession closed, SessionEvent evt) => new()
    {
        ShopperId = evt.ShopperId,
        SessionId = evt.SessionId,
        OriginChannel = closed.Outcome.OriginChannel,
        Currency = closed.Outcome.Currency,
        TimeZone = closed.TimeZone,
        StartedAt = closed.Outcome.StartedAt,
        LastActivityAt = evt.EventTime,
        RemindersSent = closed.RemindersSent,
        Abandonments = closed.Abandonments,
        // The reopened session re-emits its outcome row under the same key: it must keep what the row said about the
        // earlier abandonment (when, and the holdout group), or the cart would vanish from recovery_outcomes.
        AbandonedAt = closed.Outcome.AbandonedAt,
        Holdout = closed.Outcome.Holdout,
        Visits = closed.Visits + 1,
        ReturningShopper = true,
    };

    /// <summary>The shopper came back to an abandoned session: it is live again and the case's schedule is dropped.
    /// AbandonedAt (and Holdout) stay: the cart was abandoned (and maybe reminded); if the shopper now orders, analytics
    /// must still see an abandoned cart that converted. The next abandonment replaces it.</summary>
    public static SessionState Resume(SessionState session) => session with
    {
        Phase = SessionPhase.Active, NextStep = 0, DeferredUntil = null, AbandonCause = "", IncentiveExpiresAt = null,
        LastReminderAt = null,
    };

    /// <summary>The session after a storefront event: activity and the event's effect on cart, funnel and payment.</summary>
    public static SessionState Evolve(SessionState session, SessionEvent evt) => Touch(session, evt) switch
    {
        var s when evt is SessionStarted started => WithCurrency(s, started.Currency) with
        {
            TimeZone = SharedStrings.OfNullable(started.TimeZone) ?? s.TimeZone,
            TimeZoneFromPolicy = s.TimeZoneFromPolicy && started.TimeZone is null,
            ReturningShopper = s.ReturningShopper || started.ReturningShopper,
        },
        var s when evt is CartLineAdded added => WithCurrency(s, added.Currency) with
        {
            Lines = s.Lines.SetItem(added.Line.Sku, s.Lines.TryGetValue(added.Line.Sku, out var line)
                ? line with { Quantity = line.Quantity + added.Line.Quantity, UnitPrice = added.Line.UnitPrice }
                : added.Line with { Sku = SharedStrings.Of(added.Line.Sku), Name = SharedStrings.Of(added.Line.Name) }),
            HadCart = true,
            FurthestStep = Max(s.FurthestStep, FunnelStep.Cart),
        },
        var s when evt is ProductViewed { Category: { Length: > 0 } category } => s with { ViewedCategories = Viewed(s.ViewedCategories, category) },
        var s when evt is CartLineRemoved removed => s with { Lines = s.Lines.Remove(removed.Sku) },
        var s when evt is CartLineUpdated update => s with
        {
            Lines = update.Quantity == 0 ? s.Lines.Remove(update.Sku)
                : s.Lines.TryGetValue(update.Sku, out var line) ? s.Lines.SetItem(update.Sku, line with { Quantity = update.Quantity }) : s.Lines,
        },
        var s when evt is CheckoutStarted => s with { FurthestStep = Max(s.FurthestStep, FunnelStep.Checkout) },
        var s when evt is CheckoutStepCompleted step => s with
        {
            FurthestStep = Max(s.FurthestStep, step.Step == "payment" ? FunnelStep.Payment : FunnelStep.Checkout),
        },
        var s when evt is PaymentFailed failed => s with
        {
            PaymentFailures = s.PaymentFailures + 1,
            PaymentErrorCodes = s.PaymentErrorCodes.Add(SharedStrings.Of(failed.ErrorCode)),
            FurthestStep = FunnelStep.Payment,
        },
        var s => s,
    };

    /// <summary>The session's activity after an event: first and last event time, and the last event's id.</summary>
    public static SessionState Touch(SessionState session, ShopperEvent evt) => session with
    {
        // The start is the session's earliest event time, whatever the arrival order: it is part of the session's key
        // and its trigger ids, so an event delayed within the lateness must not give the session another identity.
        StartedAt = evt.EventTime < session.StartedAt ? evt.EventTime : session.StartedAt,
        LastActivityAt = evt.EventTime > session.LastActivityAt ? evt.EventTime : session.LastActivityAt,
        LastEventId = evt.EventId,
    };

    /// <summary>The session's real-time risk score (and its top factors) at <paramref name="at"/>.</summary>
    public SessionState Rescore(SessionState session, DateTimeOffset at)
    {
        var timeout = Policy.SegmentFor(session).InactivityTimeout;
        var score = RiskModel.Score(session, Policy.ValueInPolicyCurrency(session), at, timeout, Policy.Risk);
        return session with { Score = score.Value, TopFactors = score.Top() };
    }

    /// <summary>A currency the input names for the cart: the cart's own while the cart is empty; another one joining a
    /// non-empty cart makes it a cart of mixed currencies (never summed or compared as one). A line without a currency
    /// is in the cart's.</summary>
    public static SessionState WithCurrency(SessionState session, string? currency) =>
        currency is null ? session
        : !session.HasCart ? session with { Currency = SharedStrings.Of(currency), CurrencyFromPolicy = false, MixedCurrencies = false }
        : session with { MixedCurrencies = session.MixedCurrencies || currency != session.Currency };

    /// <summary>An order's lines as a cart (the last line of a repeated sku wins).</summary>
    public static ImmutableSortedDictionary<string, CartLine> LinesOf(IReadOnlyList<CartLine> lines) =>
        lines.GroupBy(l => l.Sku).ToImmutableSortedDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    private static FunnelStep Max(FunnelStep a, FunnelStep b) => a > b ? a : b;

    /// <summary>One more view of <paramref name="category"/>; past <see cref="SessionState.MaxViewedCategories"/> categories
    /// the least viewed (ties: the last by name) is forgotten, so a long browse keeps a small state.</summary>
    private static ImmutableSortedDictionary<string, int> Viewed(ImmutableSortedDictionary<string, int> viewed, string category)
    {
        var updated = viewed.SetItem(SharedStrings.Of(category), viewed.GetValueOrDefault(category) + 1);
        if (updated.Count <= SessionState.MaxViewedCategories) return updated;
        return updated.Remove(updated.Where(c => c.Key != category).OrderBy(c => c.Value).ThenByDescending(c => c.Key, StringComparer.Ordinal).First().Key);
    }
}
