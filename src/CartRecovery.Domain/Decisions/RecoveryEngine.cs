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
/// <remarks>The engine orchestrates three parts, one idea each: <see cref="SessionEvolution"/> (how a session's state
/// changes and is scored), <see cref="SendGate"/> (whether a due step may go out) and <see cref="RecoveryRows"/> (the
/// rows it emits, under <see cref="RecoveryIds"/>). The engine itself owns the recovery case: abandonment, the
/// reminder schedule and its deadlines, closing, and the shopper state (orders, consent, dedup, open cases).</remarks>
public sealed partial class RecoveryEngine(RecoveryPolicy policy)
{
    public const string RecoveryPurpose = "cart_recovery";
    public const string ChatChannel = "chat";

    public RecoveryPolicy Policy { get; } = policy;

    private SessionEvolution Sessions { get; } = new(policy);
    private SendGate Gate { get; } = new(policy);
    private RecoveryRows Rows { get; } = new(policy);

    // ---------------------------------------------------------------- events

    /// <summary>Applies a storefront or order event to its session (created on first sight, or reopened).</summary>
    public Decision Apply(ShopperState shopper, SessionState? session, SessionEvent evt, Watermark watermark)
    {
        if (IsRedelivery(shopper, evt, evt.SessionId, out var duplicate, out var seen)) return new Decision(shopper, session, duplicate);
        var effects = LateAudit(shopper, evt, evt.SessionId, watermark);
        // The remembered id and the profile in one copy of the shopper (this runs on every storefront event).
        shopper = shopper with { SeenEvents = seen, Profile = Profiles.ProfileRows.Observed(shopper.Profile, evt, Policy, session?.Currency) };

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
                    return new Decision(shopper, null, effects.Add(Rows.Audit(shopper.ShopperId, evt.SessionId, AuditDecisions.LateEvent,
                        DecisionReason.BeforeAbandonment, evt.EventTime, [evt.EventId],
                        detail: $"session ended ({closed.Outcome.Outcome}); an event from before {ReturnsAfter(closed):O} does not reopen it")));
                session = SessionEvolution.Reopen(closed, evt);
                shopper = shopper with { ClosedSessions = shopper.ClosedSessions.Remove(evt.SessionId) };
            }
            else
            {
                session = Sessions.Open(shopper, evt);
            }
        }

        var lateNews = session.Phase == SessionPhase.Abandoned ? LateNewsReason(session, evt) : null;
        if (lateNews is not null)
        {
            // Late, not "came back": the event happened before the abandonment (or before a reminder that has gone
            // out), so it changes the cart the reminders show, but the recovery case and its schedule stay as they are.
            effects = effects.Add(Rows.Audit(session, AuditDecisions.LateEvent, lateNews, evt.EventTime, [evt.EventId],
                detail: $"abandoned at {session.AbandonedAt:O}, last reminder at {session.LastReminderAt:O}: applied to the cart, session not resumed"));
        }
        else if (session.Phase == SessionPhase.Abandoned)
        {
            // The shopper came back: the remaining steps of this abandonment will not be sent.
            var segment = SegmentOf(session);
            if (session.NextStep < segment.Steps.Length)
                effects = effects.Add(Rows.Audit(session, AuditDecisions.Suppressed, SuppressionReason.SessionResumed, evt.EventTime, [evt.EventId],
                    step: segment.Steps[session.NextStep].Number));
            session = SessionEvolution.Resume(session);
            shopper = WithoutOpenCase(shopper, session.SessionId);
        }

        var updated = SessionEvolution.Evolve(session, evt);
        if (lateNews is not null) return new Decision(shopper, updated, effects);
        // Evolve made a copy no one else holds: scored in it.
        updated = Sessions.RescoreCopy(updated, evt.EventTime);

        if (evt is PaymentFailed)
        {
            var assist = Policy.SegmentFor(updated).Assist;
            if (assist.Enabled && !updated.ProactiveChatSent && assist.PaymentFailures > 0 && updated.PaymentFailures >= assist.PaymentFailures)
            {
                var chat = ProactiveChat(shopper, updated, evt.EventTime, DecisionReason.RepeatedPaymentFailures, [evt.EventId]);
                (shopper, updated) = (chat.Shopper, chat.Session);
                effects = effects.Concat(chat.Effects);
            }
        }

        if (evt is PromoCodeRejected promo)
        {
            var chat = PromoCodeChat(shopper, updated, promo);
            (shopper, updated) = (chat.Shopper, chat.Session);
            effects = effects.Concat(chat.Effects);
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
            return [new Deadline(session.DeferredUntil ?? StepDue(session, segment).Plus(Policy.PurchaseGrace), DeadlineKind.ReminderStep)];
        }

        var live = Policy.SegmentFor(session);
        var inactivity = new Deadline(session.LastActivityAt.Plus(live.InactivityTimeout), DeadlineKind.Inactivity);
        // A browsing session stays open until its browse-abandonment message is decided (listed first: it wins a tie).
        if (BrowseDeadline(session) is { } browse) return [browse, inactivity.At < browse.At ? inactivity with { At = browse.At } : inactivity];
        var assist = live.Assist;
        if (assist.Enabled && !session.ProactiveChatSent && session.HasCart && session.FurthestStep >= FunnelStep.Checkout
            && Policy.ValueInPolicyCurrency(session) >= assist.MinCartValue)
            return [new Deadline(session.LastActivityAt.Plus(assist.CheckoutIdle), DeadlineKind.ProactiveAssist), inactivity];
        return [inactivity];
    }

    /// <summary>The earliest deadline the watermark has passed, if any. With <paramref name="before"/> (the event time
    /// of the shopper's next input), deadlines earlier than that input are due too: in event time they happened
    /// first, so they must fire first, whether or not other shoppers' traffic has moved the watermark past them yet.</summary>
    public Deadline? DueDeadline(SessionState session, Watermark watermark, DateTimeOffset? before = null) =>
        DueAmong(Deadlines(session), watermark, before);

    /// <summary><see cref="DueDeadline"/> over deadlines already computed by <see cref="Deadlines"/> (those a partition
    /// keeps for a session whose state its session actor holds).</summary>
    public static Deadline? DueAmong(ImmutableArray<Deadline> deadlines, Watermark watermark, DateTimeOffset? before = null) =>
        DueAmong(deadlines.AsSpan(), watermark, before);

    /// <summary><see cref="DueAmong(ImmutableArray{Deadline}, Watermark, DateTimeOffset?)"/> over deadlines a store keeps
    /// in place (a session's usual single one inline, not in an array).</summary>
    public static Deadline? DueAmong(ReadOnlySpan<Deadline> deadlines, Watermark watermark, DateTimeOffset? before = null)
    {
        Deadline? due = null;
        foreach (var deadline in deadlines)
            if ((watermark.HasPassed(deadline.At, deadline.Eager) || deadline.At < before) && (due is null || deadline.At < due.Value.At))
                due = deadline;
        return due;
    }

    /// <summary>Fires one deadline of the session (one previously returned by <see cref="Deadlines"/>).</summary>
    public Decision Fire(ShopperState shopper, SessionState session, Deadline deadline) => deadline.Kind switch
    {
        DeadlineKind.ProactiveAssist => FireAssist(shopper, session, deadline.At),
        DeadlineKind.BrowseAbandonment => FireBrowse(shopper, Sessions.Rescore(session, deadline.At), deadline.At),
        DeadlineKind.Inactivity when session.HasCart => Abandon(shopper, Sessions.Rescore(session, deadline.At), deadline.At, DecisionReason.InactivityTimeout),
        DeadlineKind.Inactivity => Close(shopper, session, session.HadCart ? Outcomes.Emptied : Outcomes.Browsed, deadline.At, Effects.None),
        DeadlineKind.IncentiveExpiry => ExpireIncentives(shopper, session, deadline.At),
        _ => FireStep(shopper, Sessions.Rescore(session, deadline.At), deadline.At),
    };

    private Decision FireAssist(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        // The chat carries the score at the moment it fires; the session keeps its own, so this eager decision
        // leaves no trace in later rows beyond "chat offered".
        var (offeredTo, _, effects) = ProactiveChat(shopper, Sessions.Rescore(session, at), at, DecisionReason.CheckoutIdle, [session.LastEventId]);
        return new Decision(offeredTo, session with { ProactiveChatSent = true }, effects);
    }

    private Decision Abandon(ShopperState shopper, SessionState session, DateTimeOffset at, string cause)
    {
        // The A/B variant may change the segment's steps and channels for its shoppers.
        var variant = Policy.VariantFor(session.ShopperId);
        var segment = Policy.VariantNamed(variant).Apply(Policy.SegmentFor(session));
        // Scored with its cause: an explicit exit is an abandonment signal of its own (RiskModel, explicit_exit).
        var left = Sessions.RescoreCopy(session with { AbandonCause = cause }, at);
        var abandoned = left with
        {
            Phase = SessionPhase.Abandoned,
            Abandonments = session.Abandonments + 1,
            AbandonedAt = at,
            Segment = segment.Name,
            Variant = variant,
            // The score when the cart was left decides the case (min_score, the urgency of latest_delay steps) and is the
            // score its reminders show; fixed, so its deadlines do not move.
            UrgencyScore = left.Score,
            UrgencyFactors = left.TopFactors,
            Holdout = DeterministicId.Unit("holdout", Policy.Version, session.ShopperId, session.SessionId) < Policy.HoldoutShare,
            NextStep = 0,
            DeferredUntil = null,
        };
        var effects = Effects.None.Add(Rows.Audit(abandoned, AuditDecisions.Abandoned, cause, at, [session.LastEventId],
            detail: $"segment={segment.Name} holdout={(abandoned.Holdout ? 1 : 0)} {Rows.MoneyAndDefaults(session)}"));
        if (segment.Steps.IsEmpty) return Close(shopper, abandoned, Outcomes.Abandoned, at, effects);
        return JoinOrOpenCase(shopper, abandoned, segment, at, effects);
    }

    private Decision FireStep(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        var segment = SegmentOf(session);
        if (SendGate.OrderSinceCartLeft(shopper, session, at) is { } order)
        {
            // A purchase anywhere after the cart was left ends the case, whether or not the order lists lines.
            var ended = SuppressRemainingSteps(session, segment, SuppressionReason.OrderPlaced, at, [order.EventId],
                $"the shopper ordered in session {order.SessionId} at {order.At:O}");
            return Close(shopper, session, Outcomes.Abandoned, at, ended);
        }

        var step = segment.Steps[session.NextStep];
        var due = StepDue(session, segment);
        var effects = Effects.None;
        // The step's rows show the score that decided it, taken when the cart was left; the send-time score (idle hours
        // in it) rides along on the trigger for comparison.
        var sendTimeScore = session.Score;
        var decided = DecidedScore(session);
        // The message lists only what the shopper has not bought since: a reminder for a bought item is a wrong message.
        var unbought = Gate.Unbought(shopper, session, at, out var bought);
        var offered = ReferenceEquals(unbought, session.Lines) ? session : session with { Lines = unbought };

        // A step that names its own channels is sent under them; every other rule is the segment's.
        var verdict = Gate.Check(shopper, session, offered, bought, step.In(segment), at, step.MinScore);
        var channel = verdict.Channel;
        if (verdict.MaySend && SendGate.QuietUntil(segment, session, at) is { } until)
        {
            var deferred = session with { DeferredUntil = until };
            return new Decision(shopper, deferred, effects.Add(Rows.Audit(session, decided, AuditDecisions.Deferred, DecisionReason.QuietHours, at,
                [session.LastEventId], step.Number, channel!,
                detail: $"until {until:O} ({session.TimeZone}{(session.TimeZoneFromPolicy ? ", policy default_time_zone" : "")})")));
        }

        if (!verdict.MaySend)
        {
            effects = effects.Add(Rows.Audit(session, decided, AuditDecisions.Suppressed, verdict.Suppression!, at, verdict.Evidence, step.Number, channel ?? "",
                detail: verdict.Detail));
        }
        else
        {
            var triggerId = RecoveryIds.Reminder(Policy.Version, session, step.Number);
            var code = step.Incentive is not null ? RecoveryIds.IncentiveCode(Policy.Version, session, step.Number) : "";
            var dropped = bought.Count == 0 ? "" : $" dropped_bought_skus={string.Join(",", bought.Keys)}";
            effects = effects
                .Add(Rows.WithObligations(Rows.Trigger(offered, triggerId, TriggerKinds.Reminder, step.Number, channel!, DecisionReason.ReminderStep, at, due, code,
                    verdict.Consent!.EventId, step.Incentive, decided, sendTimeScore), verdict.Consent, session.TimeZone))
                .Add(Rows.Audit(session, decided, AuditDecisions.Triggered, DecisionReason.ReminderStep, at,
                    [verdict.Consent.EventId, session.LastEventId, .. bought.Values.Select(p => p.EventId).Distinct().Order(StringComparer.Ordinal)],
                    step.Number, channel!, detail: $"trigger_id={triggerId}{dropped}{Urgency(session, step)}{(verdict.Detail.Length > 0 ? " " + verdict.Detail : "")} send_time_score={sendTimeScore:0.####}"));
            shopper = shopper with
            {
                Sent = shopper.Sent.Add(new SentMessage(at, triggerId, session.SessionId)),
                OpenIncentives = step.Incentive is { } offer
                    ? shopper.OpenIncentives.Add(new OpenIncentive(code, triggerId, session.SessionId, at, at + offer.ValidFor))
                    : shopper.OpenIncentives,
            };
        }

        // The step decided, in one copy (a sent step also counts as a reminder of the case).
        session = verdict.MaySend
            ? session with { RemindersSent = session.RemindersSent + 1, LastReminderAt = at, NextStep = session.NextStep + 1, DeferredUntil = null }
            : session with { NextStep = session.NextStep + 1, DeferredUntil = null };
        if (session.NextStep < segment.Steps.Length) return new Decision(shopper, session, effects);
        // The case stays open while a code it issued is valid, so the code's expiry is voided at its time.
        return CodeValidUntil(shopper, session, at) is { } expiry
            ? new Decision(shopper, session with { IncentiveExpiresAt = expiry }, effects)
            : Close(shopper, session, Outcomes.Abandoned, at, effects, caseEndedWithoutOrder: true);
    }

    /// <summary>Audits every step of the case not yet decided as suppressed for one reason (the case ended).</summary>
    private Effects SuppressRemainingSteps(SessionState session, SegmentPolicy segment, string reason, DateTimeOffset at,
        ImmutableArray<string> evidence, string detail = "")
    {
        var effects = Effects.None;
        for (var i = session.NextStep; i < segment.Steps.Length; i++)
            effects = effects.Add(Rows.Audit(session, AuditDecisions.Suppressed, reason, at, evidence, segment.Steps[i].Number, detail: detail));
        return effects;
    }

    /// <summary>A proactive chat for the session, unless it falls in the chat holdout (proactive_assist.holdout_share,
    /// deterministic per shopper and session: audited <c>chat_holdout</c>, so abandonment with and without chat can be
    /// compared). Either way the session is not offered one again. An offered chat is remembered in the shopper's state,
    /// so chat outcomes match it.</summary>
    private (ShopperState Shopper, SessionState Session, Effects Effects) ProactiveChat(ShopperState shopper, SessionState session, DateTimeOffset at,
        string reason, ImmutableArray<string> evidence, string detail = "")
    {
        var holdoutShare = Policy.SegmentFor(session).Assist.HoldoutShare;
        if (holdoutShare > 0 && DeterministicId.Unit("chat-holdout", Policy.Version, session.ShopperId, session.SessionId) < holdoutShare)
            return (shopper, session with { ProactiveChatSent = true }, Effects.None.Add(Rows.Audit(session, AuditDecisions.Suppressed,
                SuppressionReason.ChatHoldout, at, evidence, 0, ChatChannel, detail: $"eligible ({reason}); holdout_share={holdoutShare}{(detail.Length > 0 ? " " + detail : "")}")));
        var triggerId = RecoveryIds.ProactiveChat(Policy.Version, session);
        var effects = Effects.None
            .Add(Rows.Located(Rows.Trigger(session, triggerId, TriggerKinds.ProactiveChat, 0, ChatChannel, reason, at, at, "", ""), session.TimeZone))
            .Add(Rows.Audit(session, AuditDecisions.Triggered, reason, at, evidence, 0, ChatChannel, detail: $"trigger_id={triggerId}{(detail.Length > 0 ? " " + detail : "")}"));
        shopper = shopper with
        {
            OfferedChats = shopper.OfferedChats.RemoveAll(c => c.At < at - Policy.AttributionWindow).Add(new OfferedChat(at, triggerId, session.SessionId)),
        };
        return (shopper, session with { ProactiveChatSent = true }, effects);
    }

    /// <summary>The chat a refused promo code offers: decided on the event itself (the shopper is on the page now), when the
    /// segment's <c>promo_code_failure</c> is on, the session was offered no chat yet and its cart scores at least the
    /// threshold. A cart below it is audited <c>score_below_threshold</c> on the chat channel, so analysts see every
    /// refused code that was not met with help.</summary>
    private (ShopperState Shopper, SessionState Session, Effects Effects) PromoCodeChat(ShopperState shopper, SessionState session, PromoCodeRejected promo)
    {
        var assist = Policy.SegmentFor(session).Assist;
        var settings = assist.PromoCodeFailure;
        if (!assist.Enabled || !settings.Enabled || session.ProactiveChatSent || !session.HasCart) return (shopper, session, Effects.None);
        var detail = $"promo_code_reason={promo.Reason} min_score={settings.MinScore:0.####}";
        if (session.Score < settings.MinScore)
            return (shopper, session, Effects.None.Add(Rows.Audit(session, AuditDecisions.Suppressed, SuppressionReason.ScoreBelowThreshold,
                promo.EventTime, [promo.EventId], 0, ChatChannel, detail: $"{DecisionReason.PromoCodeRejected} score={session.Score:0.####} {detail}")));
        return ProactiveChat(shopper, session, promo.EventTime, DecisionReason.PromoCodeRejected, [promo.EventId], detail);
    }

    // ---------------------------------------------------------------- helpers

    /// <param name="caseEndedWithoutOrder">The session's recovery case ran to its end (every step decided, no code of it
    /// still valid) and nobody ordered: a survey invitation may follow (<see cref="InviteToSurvey"/>).</param>
    private Decision Close(ShopperState shopper, SessionState session, string outcome, DateTimeOffset at, Effects effects,
        DateTimeOffset? orderedAt = null, decimal orderValue = 0, string orderCurrency = "", bool caseEndedWithoutOrder = false)
    {
        if (caseEndedWithoutOrder) shopper = InviteToSurvey(shopper, session, at);
        var row = Rows.Outcome(session, outcome, at, orderedAt, orderValue, orderCurrency);
        if (orderedAt is null && session.EarlierOrder is { } earlier)
        {
            // The session ordered, then the shopper came back to it. Its row is re-emitted under the same key and must keep
            // the order: nothing new (a view, a refused code) leaves the ordered row as it was; a new cart left behind is
            // that cart's abandonment, with the earlier order still on the row.
            row = outcome is Contracts.Outputs.Outcomes.Browsed or Contracts.Outputs.Outcomes.Emptied
                ? earlier with { EndedAt = at }
                : row with { OrderedAt = earlier.OrderedAt, OrderValue = earlier.OrderValue, OrderCurrency = earlier.OrderCurrency };
        }
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
            OfferedChats = shopper.OfferedChats.RemoveAll(c => c.At < horizon),
            // A survey not decided within the attribution window (a policy that switched surveys off) is forgotten.
            PendingSurveys = shopper.PendingSurveys.IsEmpty ? shopper.PendingSurveys : shopper.PendingSurveys.RemoveAll(p => p.EndedAt < horizon),
        };
        // Codes of this shopper that ran out meanwhile (their own case was resumed, so no expiry deadline) are voided now.
        effects = effects.Concat(VoidIncentives(ref shopper, i => i.ExpiresAt <= at, at, ""));
        // The profile as of the session's end: shopper_profiles keeps the newest row per shopper.
        return new Decision(shopper, null, effects.Add(row).Add(Profiles.ProfileRows.Row(shopper, Policy, at)));
    }

    private TimeSpan MaxCapWindow() => Policy.Segments.Max(s => s.Caps.PerShopperWindow);

    /// <summary>The segment the session's case runs under, as its A/B variant runs it.</summary>
    private SegmentPolicy SegmentOf(SessionState session)
    {
        var variant = Policy.VariantNamed(session.Variant);
        foreach (var segment in Policy.Segments)
            if (segment.Name == session.Segment) return variant.Apply(segment);
        return variant.Apply(Policy.Segments[^1]);
    }

    /// <summary>When the next step is due: its delay after the abandonment, moved inside the step's window by the urgency
    /// (the score at abandonment) when it has a latest_delay.</summary>
    private static DateTimeOffset StepDue(SessionState session, SegmentPolicy segment) =>
        session.AbandonedAt!.Value.Plus(segment.Steps[session.NextStep].DelayFor(session.UrgencyScore));

    /// <summary>The score a step's rows show: as when the cart was left, the score that decided the step (given to the rows
    /// rather than set in a copy of the session for them).</summary>
    private static DecidingScore DecidedScore(SessionState session) =>
        new(session.UrgencyScore, session.UrgencyFactors.IsDefaultOrEmpty ? session.TopFactors : session.UrgencyFactors);

    /// <summary>For the trigger's audit row of a step with an urgency window: the score that placed it and the delay it gave.</summary>
    private static string Urgency(SessionState session, ReminderStep step) =>
        step.LatestDelay is null ? "" : $" urgency={session.UrgencyScore:0.###} delay={step.DelayFor(session.UrgencyScore):c} window={step.Delay:c}..{step.LatestDelay:c}";
}
