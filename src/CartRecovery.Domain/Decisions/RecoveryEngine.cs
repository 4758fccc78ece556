using System.Collections.Concurrent;
using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Scoring;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>
/// The decision service: pure functions from (shopper state, session state, input) to (new states, effects).
/// No actors, no I/O, no wall clock: time is the event time of the input or the deadline being fired, so a
/// replay of the same input under the same policy decides exactly the same.
/// </summary>
public sealed partial class RecoveryEngine(RecoveryPolicy policy)
{
    public const string RecoveryPurpose = "cart_recovery";
    public const string ChatChannel = "chat";

    private static readonly ConcurrentDictionary<string, TimeZoneInfo> Zones = new();

    public RecoveryPolicy Policy { get; } = policy;

    // ---------------------------------------------------------------- events

    /// <summary>Applies a storefront or order event to its session (created on first sight, or reopened).</summary>
    public Decision Apply(ShopperState shopper, SessionState? session, SessionEvent evt, Watermark watermark)
    {
        if (IsRedelivery(ref shopper, evt, evt.SessionId, out var duplicate)) return new Decision(shopper, session, duplicate);
        var effects = LateAudit(shopper, evt, evt.SessionId, watermark);

        if (evt is OrderPlaced or PaymentAuthorized)
        {
            var ordered = ApplyOrder(shopper, session, evt);
            return ordered with { Effects = effects.Concat(ordered.Effects) };
        }
        if (evt is PaymentFailed) shopper = ResolvePendingPayments(shopper, evt.SessionId, evt.EventTime);

        if (session is null)
        {
            if (shopper.ClosedSessions.TryGetValue(evt.SessionId, out var closed))
            {
                // An event from before the session ended (a buffered app event, a slow producer) is not the shopper
                // coming back: reopening would start a second recovery case for the same visit.
                if (evt.EventTime < ReturnsAfter(closed))
                    return new Decision(shopper, null, effects.Add(Audit(shopper.ShopperId, evt.SessionId, AuditDecisions.LateEvent,
                        DecisionReason.BeforeAbandonment, evt.EventTime, [evt.EventId],
                        detail: $"session ended ({closed.Outcome.Outcome}); an event from before {ReturnsAfter(closed):O} does not reopen it")));
                session = Reopen(closed, evt);
                shopper = shopper with { ClosedSessions = shopper.ClosedSessions.Remove(evt.SessionId) };
            }
            else
            {
                session = NewSession(shopper, evt);
            }
        }

        var lateNews = session.Phase == SessionPhase.Abandoned ? LateNewsReason(session, evt) : null;
        if (lateNews is not null)
        {
            // Late, not "came back": the event happened before the abandonment (or before a reminder that has gone
            // out), so it changes the cart the reminders show, but the recovery case and its schedule stay as they are.
            effects = effects.Add(Audit(session, AuditDecisions.LateEvent, lateNews, evt.EventTime, [evt.EventId],
                detail: $"abandoned at {session.AbandonedAt:O}, last reminder at {session.LastReminderAt:O}: applied to the cart, session not resumed"));
        }
        else if (session.Phase == SessionPhase.Abandoned)
        {
            // The shopper came back: the remaining steps of this abandonment will not be sent.
            var segment = SegmentOf(session);
            if (session.NextStep < segment.Steps.Length)
                effects = effects.Add(Audit(session, AuditDecisions.Suppressed, SuppressionReason.SessionResumed, evt.EventTime, [evt.EventId],
                    step: segment.Steps[session.NextStep].Number));
            // AbandonedAt (and Holdout) stay: the cart was abandoned (and maybe reminded); if the shopper now orders,
            // analytics must still see an abandoned cart that converted. The next abandonment replaces it.
            session = session with
            {
                Phase = SessionPhase.Active, NextStep = 0, DeferredUntil = null, AbandonCause = "", IncentiveExpiresAt = null,
                LastReminderAt = null,
            };
            shopper = WithoutOpenCase(shopper, session.SessionId);
        }

        var updated = Touch(session, evt) switch
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
        if (lateNews is not null) return new Decision(shopper, updated, effects);
        updated = Rescore(updated, evt.EventTime);

        if (evt is PaymentFailed)
        {
            var assist = Policy.SegmentFor(updated).Assist;
            if (assist.Enabled && !updated.ProactiveChatSent && assist.PaymentFailures > 0 && updated.PaymentFailures >= assist.PaymentFailures)
            {
                var chat = ProactiveChat(updated, evt.EventTime, DecisionReason.RepeatedPaymentFailures, [evt.EventId]);
                updated = chat.Session;
                effects = effects.Concat(chat.Effects);
            }
        }

        if (evt is SessionExited && updated.HasCart)
        {
            var abandoned = Abandon(shopper, updated, evt.EventTime, DecisionReason.ExplicitExit);
            return abandoned with { Effects = effects.Concat(abandoned.Effects) };
        }
        return new Decision(shopper, updated, effects);
    }

    // ---------------------------------------------------------------- timers

    /// <summary>The instants at which this session must be looked at again (none when nothing is pending).</summary>
    public ImmutableArray<Deadline> Deadlines(SessionState session)
    {
        if (session.Phase == SessionPhase.Abandoned)
        {
            var segment = SegmentOf(session);
            if (session.NextStep >= segment.Steps.Length)
                return session.IncentiveExpiresAt is { } expiry ? [new Deadline(expiry, DeadlineKind.IncentiveExpiry)] : [];
            return [new Deadline(session.DeferredUntil ?? StepDue(session, segment) + Policy.PurchaseGrace, DeadlineKind.ReminderStep)];
        }

        var live = Policy.SegmentFor(session);
        var inactivity = new Deadline(session.LastActivityAt + live.InactivityTimeout, DeadlineKind.Inactivity);
        var assist = live.Assist;
        if (assist.Enabled && !session.ProactiveChatSent && session.HasCart && session.FurthestStep >= FunnelStep.Checkout
            && Policy.ValueInPolicyCurrency(session) >= assist.MinCartValue)
            return [new Deadline(session.LastActivityAt + assist.CheckoutIdle, DeadlineKind.ProactiveAssist), inactivity];
        return [inactivity];
    }

    /// <summary>The earliest deadline the watermark has passed, if any. With <paramref name="before"/> (the event time
    /// of the shopper's next input), deadlines earlier than that input are due too: in event time they happened
    /// first, so they must fire first, whether or not other shoppers' traffic has moved the watermark past them yet.</summary>
    public Deadline? DueDeadline(SessionState session, Watermark watermark, DateTimeOffset? before = null)
    {
        Deadline? due = null;
        foreach (var deadline in Deadlines(session))
            if ((watermark.HasPassed(deadline.At, deadline.Eager) || deadline.At < before) && (due is null || deadline.At < due.Value.At))
                due = deadline;
        return due;
    }

    /// <summary>Fires one deadline of the session (one previously returned by <see cref="Deadlines"/>).</summary>
    public Decision Fire(ShopperState shopper, SessionState session, Deadline deadline) => deadline.Kind switch
    {
        DeadlineKind.ProactiveAssist => FireAssist(shopper, session, deadline.At),
        DeadlineKind.Inactivity when session.HasCart => Abandon(shopper, Rescore(session, deadline.At), deadline.At, DecisionReason.InactivityTimeout),
        DeadlineKind.Inactivity => Close(shopper, session, session.HadCart ? Outcomes.Emptied : Outcomes.Browsed, deadline.At, Effects.None),
        DeadlineKind.IncentiveExpiry => ExpireIncentives(shopper, session, deadline.At),
        _ => FireStep(shopper, Rescore(session, deadline.At), deadline.At),
    };

    private Decision FireAssist(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        // The chat carries the score at the moment it fires; the session keeps its own, so this eager decision
        // leaves no trace in later rows beyond "chat offered".
        var (_, effects) = ProactiveChat(Rescore(session, at), at, DecisionReason.CheckoutIdle, [session.LastEventId]);
        return new Decision(shopper, session with { ProactiveChatSent = true }, effects);
    }

    private Decision Abandon(ShopperState shopper, SessionState session, DateTimeOffset at, string cause)
    {
        var segment = Policy.SegmentFor(session);
        var abandoned = session with
        {
            Phase = SessionPhase.Abandoned,
            Abandonments = session.Abandonments + 1,
            AbandonedAt = at,
            AbandonCause = cause,
            Segment = segment.Name,
            Variant = Policy.VariantFor(session.ShopperId),
            Holdout = DeterministicId.Unit("holdout", Policy.Version, session.ShopperId, session.SessionId) < Policy.HoldoutShare,
            NextStep = 0,
            DeferredUntil = null,
        };
        var effects = Effects.None.Add(Audit(abandoned, AuditDecisions.Abandoned, cause, at, [session.LastEventId],
            detail: $"segment={segment.Name} holdout={(abandoned.Holdout ? 1 : 0)} {MoneyAndDefaults(session)}"));
        if (segment.Steps.IsEmpty) return Close(shopper, abandoned, Outcomes.Abandoned, at, effects);
        return JoinOrOpenCase(shopper, abandoned, segment, at, effects);
    }

    private Decision FireStep(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        var segment = SegmentOf(session);
        if (OrderSinceCartLeft(shopper, session, at) is { } order)
        {
            // A purchase anywhere after the cart was left ends the case, whether or not the order lists lines.
            var ended = SuppressRemainingSteps(session, segment, SuppressionReason.OrderPlaced, at, [order.EventId],
                $"the shopper ordered in session {order.SessionId} at {order.At:O}");
            return Close(shopper, session, Outcomes.Abandoned, at, ended);
        }

        var step = segment.Steps[session.NextStep];
        var due = StepDue(session, segment);
        var effects = Effects.None;
        // The message lists only what the shopper has not bought since: a reminder for a bought item is a wrong message.
        var offered = session with { Lines = Unbought(shopper, session, at, out var bought) };

        var suppression = SuppressionFor(shopper, session, offered, bought, segment, at, out var channel, out var consent, out var evidence);
        if (suppression is null && segment.QuietHours.DeferUntil(at, Zone(session.TimeZone)) is { } until)
        {
            var deferred = session with { DeferredUntil = until };
            return new Decision(shopper, deferred, effects.Add(Audit(session, AuditDecisions.Deferred, DecisionReason.QuietHours, at,
                [session.LastEventId], step.Number, channel!,
                detail: $"until {until:O} ({session.TimeZone}{(session.TimeZoneFromPolicy ? ", policy default_time_zone" : "")})")));
        }

        if (suppression is not null)
        {
            effects = effects.Add(Audit(session, AuditDecisions.Suppressed, suppression, at, evidence, step.Number, channel ?? ""));
        }
        else
        {
            var triggerId = RecoveryIds.Reminder(Policy.Version, session, step.Number);
            var code = step.Incentive is not null ? RecoveryIds.IncentiveCode(Policy.Version, session, step.Number) : "";
            var dropped = bought.Count == 0 ? "" : $" dropped_bought_skus={string.Join(",", bought.Keys)}";
            effects = effects
                .Add(Trigger(offered, triggerId, TriggerKinds.Reminder, step.Number, channel!, DecisionReason.ReminderStep, at, due, code, consent!.EventId,
                    step.Incentive))
                .Add(Audit(session, AuditDecisions.Triggered, DecisionReason.ReminderStep, at,
                    [consent.EventId, session.LastEventId, .. bought.Values.Select(p => p.EventId).Distinct().Order(StringComparer.Ordinal)],
                    step.Number, channel!, detail: $"trigger_id={triggerId}{dropped}"));
            shopper = shopper with
            {
                Sent = shopper.Sent.Add(new SentMessage(at, triggerId, session.SessionId)),
                OpenIncentives = step.Incentive is { } offer
                    ? shopper.OpenIncentives.Add(new OpenIncentive(code, triggerId, session.SessionId, at, at + offer.ValidFor))
                    : shopper.OpenIncentives,
            };
            session = session with { RemindersSent = session.RemindersSent + 1, LastReminderAt = at };
        }

        session = session with { NextStep = session.NextStep + 1, DeferredUntil = null };
        if (session.NextStep < segment.Steps.Length) return new Decision(shopper, session, effects);
        // The case stays open while a code it issued is valid, so the code's expiry is voided at its time.
        return CodeValidUntil(shopper, session, at) is { } expiry
            ? new Decision(shopper, session with { IncentiveExpiresAt = expiry }, effects)
            : Close(shopper, session, Outcomes.Abandoned, at, effects);
    }

    /// <summary>Send-time suppression, in order of precedence. Returns null when the step may be sent, with the
    /// chosen channel and the consent it relies on. <paramref name="offered"/> is the cart without the lines in
    /// <paramref name="bought"/>.</summary>
    private string? SuppressionFor(ShopperState shopper, SessionState session, SessionState offered,
        IReadOnlyDictionary<string, Purchase> bought, SegmentPolicy segment, DateTimeOffset at,
        out string? channel, out ConsentRecord? consent, out ImmutableArray<string> evidence)
    {
        channel = null;
        consent = null;
        evidence = [session.LastEventId];
        if (!session.HasCart) return SuppressionReason.CartEmptied;

        if (PendingPaymentFor(shopper, session, at) is { } pending)
        {
            evidence = [pending.EventId, session.LastEventId];
            return SuppressionReason.PaymentPending;
        }

        if (!offered.HasCart)
        {
            evidence = [.. bought.Values.Select(p => p.EventId).Distinct().Order(StringComparer.Ordinal), session.LastEventId];
            return SuppressionReason.ItemsAlreadyBought;
        }

        foreach (var candidate in segment.ChannelPreference)
        {
            if (RecoveryConsent(shopper, candidate, at) is { Granted: true } record)
            {
                channel = candidate;
                consent = record;
                break;
            }
        }
        if (consent is null)
        {
            var withdrawal = segment.ChannelPreference.Select(c => RecoveryConsent(shopper, c, at))
                .Where(r => r is { Granted: false }).OrderByDescending(r => r!.At).ThenBy(r => r!.EventId, StringComparer.Ordinal).FirstOrDefault();
            if (withdrawal is not null)
            {
                evidence = [withdrawal.EventId];
                return SuppressionReason.ConsentWithdrawn;
            }
            return SuppressionReason.NoConsent;
        }

        evidence = [consent.EventId, session.LastEventId];
        if (session.RemindersSent >= segment.Caps.PerCart) return SuppressionReason.CapPerCart;
        var recent = shopper.Sent.Where(s => s.At > at - segment.Caps.PerShopperWindow && s.At <= at).ToList();
        if (recent.Count >= segment.Caps.PerShopper)
        {
            evidence = [.. recent.Select(s => s.TriggerId)];
            return SuppressionReason.CapPerShopper;
        }
        if (session.Holdout) return SuppressionReason.Holdout;
        return null;
    }

    /// <summary>Audits every step of the case not yet decided as suppressed for one reason (the case ended).</summary>
    private Effects SuppressRemainingSteps(SessionState session, SegmentPolicy segment, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, string detail = "")
    {
        var effects = Effects.None;
        for (var i = session.NextStep; i < segment.Steps.Length; i++)
            effects = effects.Add(Audit(session, AuditDecisions.Suppressed, reason, at, evidence, segment.Steps[i].Number, detail: detail));
        return effects;
    }

    private (SessionState Session, Effects Effects) ProactiveChat(SessionState session, DateTimeOffset at, string reason, ImmutableArray<string> evidence)
    {
        var triggerId = RecoveryIds.ProactiveChat(Policy.Version, session);
        var effects = Effects.None
            .Add(Trigger(session, triggerId, TriggerKinds.ProactiveChat, 0, ChatChannel, reason, at, at, "", ""))
            .Add(Audit(session, AuditDecisions.Triggered, reason, at, evidence, 0, ChatChannel, detail: $"trigger_id={triggerId}"));
        return (session with { ProactiveChatSent = true }, effects);
    }

    // ---------------------------------------------------------------- helpers

    private Decision Close(ShopperState shopper, SessionState session, string outcome, DateTimeOffset at, Effects effects,
        DateTimeOffset? orderedAt = null, decimal orderValue = 0, string orderCurrency = "")
    {
        var row = new SessionOutcome
        {
            SessionId = session.SessionId,
            ShopperId = session.ShopperId,
            OriginChannel = session.OriginChannel,
            Segment = session.Segment.Length > 0 ? session.Segment : Policy.SegmentFor(session).Name,
            FurthestStep = RiskModel.StepName(session.FurthestStep),
            CartValue = session.MixedCurrencies ? 0 : session.CartValue,
            Currency = session.MixedCurrencies ? SessionState.MixedCurrency : session.Currency,
            ItemCount = session.ItemCount,
            Outcome = outcome,
            AbandonedAt = session.AbandonedAt,
            OrderedAt = orderedAt,
            OrderValue = orderValue,
            OrderCurrency = orderCurrency,
            Holdout = session.Holdout,
            PolicyVersion = Policy.Version,
            Variant = session.Variant.Length > 0 ? session.Variant : Policy.VariantFor(session.ShopperId),
            StartedAt = session.StartedAt,
            EndedAt = at,
        };
        var horizon = at - Policy.AttributionWindow;
        var memory = at - Policy.PurchaseMemory;
        shopper = WithoutOpenCase(shopper, session.SessionId) with
        {
            ClosedSessions = shopper.ClosedSessions.RemoveRange(shopper.ClosedSessions.Where(c => c.Value.ClosedAt < horizon).Select(c => c.Key))
                .SetItem(session.SessionId, new ClosedSession(row, session.RemindersSent, session.Abandonments, session.Visits, session.TimeZone, at)),
            Sent = shopper.Sent.RemoveAll(s => s.At < at - MaxCapWindow()),
            PurchasedSkus = shopper.PurchasedSkus.RemoveRange(shopper.PurchasedSkus.Where(p => p.Value.At < memory).Select(p => p.Key)),
            Orders = shopper.Orders.RemoveAll(o => o.At < memory),
            PendingPayments = shopper.PendingPayments.RemoveAll(p => p.At + Policy.PaymentPendingHold < at),
            SeenEvents = WithinDedupHorizon(shopper.SeenEvents, at),
        };
        // Codes of this shopper that ran out meanwhile (their own case was resumed, so no expiry deadline) are voided now.
        effects = effects.Concat(VoidIncentives(ref shopper, i => i.ExpiresAt <= at, at, ""));
        return new Decision(shopper, null, effects.Add(row));
    }

    private TimeSpan MaxCapWindow() => Policy.Segments.Max(s => s.Caps.PerShopperWindow);

    private SessionState NewSession(ShopperState shopper, SessionEvent evt) => new()
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
    };

    private SessionState Reopen(ClosedSession closed, SessionEvent evt) => new()
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

    /// <summary>A currency the input names for the cart: the cart's own while the cart is empty; another one joining a
    /// non-empty cart makes it a cart of mixed currencies (never summed or compared as one). A line without a currency
    /// is in the cart's.</summary>
    private static SessionState WithCurrency(SessionState session, string? currency) =>
        currency is null ? session
        : !session.HasCart ? session with { Currency = SharedStrings.Of(currency), CurrencyFromPolicy = false, MixedCurrencies = false }
        : session with { MixedCurrencies = session.MixedCurrencies || currency != session.Currency };

    /// <summary>For the abandonment's audit row: how the cart's value met the policy's amounts (currency, conversion
    /// and its rate date, or why no threshold applied) and which settings were the policy's defaults.</summary>
    private string MoneyAndDefaults(SessionState session)
    {
        var note = new System.Text.StringBuilder();
        if (session.MixedCurrencies)
            note.Append("cart_value=none currency=mixed value_thresholds=not_applied(lines in several currencies)");
        else
        {
            note.Append("cart_value=").Append(session.CartValue).Append(' ').Append(session.Currency);
            if (session.Currency != Policy.DefaultCurrency)
                note.Append(Policy.InPolicyCurrency(session.CartValue, session.Currency) is { } converted
                    ? $" value_in_{Policy.DefaultCurrency}={converted} (rates of {Policy.Rates.AsOf:yyyy-MM-dd})"
                    : $" value_thresholds=not_applied(no {session.Currency} rate in the policy)");
        }
        if (session.CurrencyFromPolicy) note.Append(" currency_source=policy_default");
        if (session.TimeZoneFromPolicy) note.Append(" time_zone_source=policy_default");
        return note.ToString();
    }

    private static SessionState Touch(SessionState session, ShopperEvent evt) => session with
    {
        // The start is the session's earliest event time, whatever the arrival order: it is part of the session's key
        // and its trigger ids, so an event delayed within the lateness must not give the session another identity.
        StartedAt = evt.EventTime < session.StartedAt ? evt.EventTime : session.StartedAt,
        LastActivityAt = evt.EventTime > session.LastActivityAt ? evt.EventTime : session.LastActivityAt,
        LastEventId = evt.EventId,
    };

    private SessionState Rescore(SessionState session, DateTimeOffset at)
    {
        var timeout = Policy.SegmentFor(session).InactivityTimeout;
        var score = RiskModel.Score(session, Policy.ValueInPolicyCurrency(session), at, timeout, Policy.Risk);
        return session with { Score = score.Value, TopFactors = score.Top() };
    }

    private SegmentPolicy SegmentOf(SessionState session)
    {
        foreach (var segment in Policy.Segments)
            if (segment.Name == session.Segment) return segment;
        return Policy.Segments[^1];
    }

    private static DateTimeOffset StepDue(SessionState session, SegmentPolicy segment) =>
        session.AbandonedAt!.Value + segment.Steps[session.NextStep].Delay;

    private static FunnelStep Max(FunnelStep a, FunnelStep b) => a > b ? a : b;

    private static ImmutableSortedDictionary<string, CartLine> LinesOf(IReadOnlyList<CartLine> lines) =>
        lines.GroupBy(l => l.Sku).ToImmutableSortedDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    // Zones reach the engine validated (EventParser for input, PolicyFile for the default): the UTC fallback is for a
    // tz database that lost a zone between a checkpoint and its restore, not for unknown input.
    public static TimeZoneInfo Zone(string id) => Zones.GetOrAdd(id, static z =>
    {
        try { return TimeZoneInfo.FindSystemTimeZoneById(z); }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException) { return TimeZoneInfo.Utc; }
    });

    private RecoveryTrigger Trigger(SessionState session, string triggerId, string kind, int step, string channel, string reason,
        DateTimeOffset at, DateTimeOffset due, string incentiveCode, string consentEventId, IncentiveOffer? incentive = null) => new()
    {
        TriggerId = triggerId,
        Kind = kind,
        ShopperId = session.ShopperId,
        SessionId = session.SessionId,
        Step = step,
        Channel = channel,
        Score = session.Score,
        TopFactors = session.TopFactors,
        Reason = reason,
        CartLines = [.. session.Lines.Values],
        CartValue = session.MixedCurrencies ? 0 : session.CartValue,
        Currency = session.MixedCurrencies ? SessionState.MixedCurrency : session.Currency,
        IncentiveCode = incentiveCode,
        IncentiveType = incentive?.Type ?? "",
        IncentiveValue = incentive?.Value ?? 0,
        IncentiveExpiresAt = incentive is null ? null : at + incentive.ValidFor,
        ConsentEventId = consentEventId,
        PolicyVersion = Policy.Version,
        Variant = session.Variant.Length > 0 ? session.Variant : Policy.VariantFor(session.ShopperId),
        Segment = session.Segment.Length > 0 ? session.Segment : Policy.SegmentFor(session).Name,
        OriginChannel = session.OriginChannel,
        FunnelStep = RiskModel.StepName(session.FurthestStep),
        PaymentErrorCodes = session.PaymentErrorCodes,
        EventTime = at,
        DueTime = due,
    };

    private AuditRecord Audit(SessionState session, string decision, string reason, DateTimeOffset at, ImmutableArray<string> evidence,
        int step = 0, string channel = "", string detail = "") =>
        Audit(session.ShopperId, session.SessionId, decision, reason, at, evidence, step, channel, detail, session.Score, session.TopFactors);

    private AuditRecord Audit(string shopperId, string sessionId, string decision, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, int step = 0, string channel = "", string detail = "", double score = 0,
        ImmutableArray<string> topFactors = default) => new()
    {
        AuditId = RecoveryIds.Audit(decision, reason, shopperId, sessionId, step, at, evidence),
        ShopperId = shopperId,
        SessionId = sessionId,
        Decision = decision,
        Reason = reason,
        Step = step,
        Channel = channel,
        Evidence = evidence,
        Score = score,
        TopFactors = topFactors.IsDefault ? [] : topFactors,
        PolicyVersion = Policy.Version,
        Detail = detail,
        EventTime = at,
    };
}
