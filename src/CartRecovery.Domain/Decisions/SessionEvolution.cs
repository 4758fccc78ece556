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
        EarlierOrder = closed.Outcome.OrderedAt is not null ? closed.Outcome : null,
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
    /// <remarks>Activity (<see cref="Touch"/>) and the event's effect are set in one copy of the state: this runs on every
    /// event, and each copy of the ~40-field record was a large share of the bytes allocated per event (docs/performance.md,
    /// session 6). None of the event cases reads a field <see cref="Touch"/> sets.</remarks>
    public static SessionState Evolve(SessionState session, SessionEvent evt)
    {
        var (startedAt, lastActivityAt) = Activity(session, evt);
        // The currency an event names, set in the same copy (WithCurrency's rule; it made a copy of its own).
        var money = CurrencyAfter(session, evt switch { SessionStarted started => started.Currency, CartLineAdded added => added.Currency, _ => null });
        return evt switch
        {
            SessionStarted started => session with
            {
                Currency = money.Currency, CurrencyFromPolicy = money.FromPolicy, MixedCurrencies = money.Mixed,
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                TimeZone = SharedStrings.OfNullable(started.TimeZone) ?? session.TimeZone,
                TimeZoneFromPolicy = session.TimeZoneFromPolicy && started.TimeZone is null,
                ReturningShopper = session.ReturningShopper || started.ReturningShopper,
            },
            CartLineAdded added => session with
            {
                Currency = money.Currency, CurrencyFromPolicy = money.FromPolicy, MixedCurrencies = money.Mixed,
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                Lines = session.Lines.SetItem(added.Line.Sku, session.Lines.TryGetValue(added.Line.Sku, out var line)
                    // Each add is bounded at entry, their sum is not: it stops at the same bound (no overflow, no negative line).
                    ? line with { Quantity = (int)Math.Min((long)line.Quantity + added.Line.Quantity, Contracts.Serialization.EntryLimits.MaxQuantity), UnitPrice = added.Line.UnitPrice }
                    : added.Line with { Sku = SharedStrings.Of(added.Line.Sku), Name = SharedStrings.Of(added.Line.Name) }),
                HadCart = true,
                FurthestStep = Max(session.FurthestStep, FunnelStep.Cart),
            },
            ProductViewed { Category: { Length: > 0 } category } => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                ViewedCategories = Viewed(session.ViewedCategories, category),
            },
            CartLineRemoved removed => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                Lines = session.Lines.Remove(removed.Sku),
            },
            CartLineUpdated update => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                Lines = update.Quantity == 0 ? session.Lines.Remove(update.Sku)
                    : session.Lines.TryGetValue(update.Sku, out var line) ? session.Lines.SetItem(update.Sku, line with { Quantity = update.Quantity }) : session.Lines,
            },
            CheckoutStarted => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                FurthestStep = Max(session.FurthestStep, FunnelStep.Checkout),
            },
            CheckoutStepCompleted step => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                FurthestStep = Max(session.FurthestStep, step.Step == "payment" ? FunnelStep.Payment : FunnelStep.Checkout),
            },
            PaymentFailed failed => session with
            {
                StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId,
                PaymentFailures = session.PaymentFailures + 1,
                PaymentErrorCodes = session.PaymentErrorCodes.Add(SharedStrings.Of(failed.ErrorCode)),
                FurthestStep = FunnelStep.Payment,
            },
            _ => Touch(session, evt),
        };
    }

    /// <summary>The session's activity after an event: first and last event time, and the last event's id.</summary>
    public static SessionState Touch(SessionState session, ShopperEvent evt)
    {
        var (startedAt, lastActivityAt) = Activity(session, evt);
        return session with { StartedAt = startedAt, LastActivityAt = lastActivityAt, LastEventId = evt.EventId };
    }

    // The start is the session's earliest event time, whatever the arrival order: it is part of the session's key
    // and its trigger ids, so an event delayed within the lateness must not give the session another identity.
    private static (DateTimeOffset StartedAt, DateTimeOffset LastActivityAt) Activity(SessionState session, ShopperEvent evt) => (
        evt.EventTime < session.StartedAt ? evt.EventTime : session.StartedAt,
        evt.EventTime > session.LastActivityAt ? evt.EventTime : session.LastActivityAt);

    /// <summary>The session's real-time risk score (and its top factors) at <paramref name="at"/>.</summary>
    public SessionState Rescore(SessionState session, DateTimeOffset at)
    {
        var timeout = Policy.SegmentFor(session).InactivityTimeout;
        var score = RiskModel.Score(session, Policy.ValueInPolicyCurrency(session), at, timeout, Policy.Risk, session.TopFactors, out var top);
        return score == session.Score && top == session.TopFactors ? session : session with { Score = score, TopFactors = top };
    }

    /// <summary><see cref="Rescore"/> of a state the caller has just copied (<see cref="Evolve"/>'s result, a <c>with</c>) and
    /// holds alone: scored in that copy instead of a second one (<see cref="SessionState.ScoreOwnCopy"/>).</summary>
    internal SessionState RescoreCopy(SessionState copy, DateTimeOffset at)
    {
        var timeout = Policy.SegmentFor(copy).InactivityTimeout;
        var score = RiskModel.Score(copy, Policy.ValueInPolicyCurrency(copy), at, timeout, Policy.Risk, copy.TopFactors, out var top);
        copy.ScoreOwnCopy(score, top);
        return copy;
    }

    /// <summary>A currency the input names for the cart: the cart's own while the cart is empty; another one joining a
    /// non-empty cart makes it a cart of mixed currencies (never summed or compared as one). A line without a currency
    /// is in the cart's.</summary>
    public static SessionState WithCurrency(SessionState session, string? currency)
    {
        if (currency is null) return session;
        var (cartCurrency, fromPolicy, mixed) = CurrencyAfter(session, currency);
        return session with { Currency = cartCurrency, CurrencyFromPolicy = fromPolicy, MixedCurrencies = mixed };
    }

    /// <summary><see cref="WithCurrency"/>'s rule as values: the session's own when the input names no currency.</summary>
    private static (string Currency, bool FromPolicy, bool Mixed) CurrencyAfter(SessionState session, string? currency) =>
        currency is null ? (session.Currency, session.CurrencyFromPolicy, session.MixedCurrencies)
        : !session.HasCart ? (SharedStrings.Of(currency), false, false)
        : (session.Currency, session.CurrencyFromPolicy, session.MixedCurrencies || currency != session.Currency);

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
        return updated.Remove(LeastViewed(updated, category));
    }

    // Apart, so the lambda's closure is allocated only past the bound, not on every view.
    private static string LeastViewed(ImmutableSortedDictionary<string, int> viewed, string category) =>
        viewed.Where(c => c.Key != category).OrderBy(c => c.Value).ThenByDescending(c => c.Key, StringComparer.Ordinal).First().Key;
}
