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
public sealed class RecoveryEngine(RecoveryPolicy policy)
{
    public const string RecoveryPurpose = "cart_recovery";
    public const string ChatChannel = "chat";

    private static readonly ConcurrentDictionary<string, TimeZoneInfo> Zones = new();

    public RecoveryPolicy Policy { get; } = policy;

    // ---------------------------------------------------------------- events

    /// <summary>Applies a storefront or order event to its session (created on first sight, or reopened).</summary>
    public Decision Apply(ShopperState shopper, SessionState? session, SessionEvent evt, Watermark watermark)
    {
        var effects = Effects.None;
        if (watermark.IsLate(evt.EventTime))
            effects = effects.Add(Audit(shopper.ShopperId, evt.SessionId, AuditDecisions.LateEvent, DecisionReason.BeyondAllowedLateness,
                evt.EventTime, [evt.EventId], detail: $"event time before watermark {watermark.Settled:O}"));

        if (evt is OrderPlaced or PaymentAuthorized)
        {
            var ordered = ApplyOrder(shopper, session, evt);
            return ordered with { Effects = effects.Concat(ordered.Effects) };
        }

        if (session is null)
        {
            if (shopper.ClosedSessions.TryGetValue(evt.SessionId, out var closed))
            {
                session = Reopen(closed, evt);
                shopper = shopper with { ClosedSessions = shopper.ClosedSessions.Remove(evt.SessionId) };
            }
            else
            {
                session = NewSession(shopper, evt);
            }
        }

        if (session.Phase == SessionPhase.Abandoned)
        {
            // The shopper came back: the remaining steps of this abandonment will not be sent.
            var segment = SegmentOf(session);
            if (session.NextStep < segment.Steps.Length)
                effects = effects.Add(Audit(session, AuditDecisions.Suppressed, SuppressionReason.SessionResumed, evt.EventTime, [evt.EventId],
                    step: segment.Steps[session.NextStep].Number));
            // AbandonedAt stays: the cart was abandoned (and maybe reminded); if the shopper now orders, analytics
            // must still see an abandoned cart that converted. The next abandonment replaces it.
            session = session with { Phase = SessionPhase.Active, NextStep = 0, DeferredUntil = null, AbandonCause = "" };
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

    /// <summary>Applies a consent change to the shopper. The newer consent wins; at the same instant a
    /// withdrawal or unsubscribe wins over a grant.</summary>
    public Decision Apply(ShopperState shopper, ConsentEvent evt, Watermark watermark)
    {
        var effects = Effects.None;
        if (watermark.IsLate(evt.EventTime))
            effects = effects.Add(Audit(shopper.ShopperId, "", AuditDecisions.LateEvent, DecisionReason.BeyondAllowedLateness,
                evt.EventTime, [evt.EventId], detail: $"event time before watermark {watermark.Settled:O}"));

        var granted = evt is ConsentGranted;
        var kind = evt switch { ConsentGranted => "granted", ConsentWithdrawn => "withdrawn", _ => "unsubscribed" };
        var key = ShopperState.ConsentKey(evt.Purpose, evt.Channel);
        var current = shopper.Consents.GetValueOrDefault(key);
        var wins = current is null || evt.EventTime > current.At || (evt.EventTime == current.At && !granted);
        if (wins)
            shopper = shopper with
            {
                Consents = shopper.Consents.SetItem(key, new ConsentRecord(SharedStrings.Of(evt.Purpose), SharedStrings.Of(evt.Channel), granted, evt.EventId,
                    evt.EventTime, SharedStrings.Of(evt.Source), SharedStrings.Of(evt.WordingVersion), kind)),
            };
        effects = effects.Add(Audit(shopper.ShopperId, "", AuditDecisions.ConsentChanged, wins ? kind : kind + "_superseded", evt.EventTime,
            [evt.EventId], channel: evt.Channel,
            detail: $"purpose={evt.Purpose} source={evt.Source} wording={evt.WordingVersion}"));
        return new Decision(shopper, null, effects);
    }

    // ---------------------------------------------------------------- timers

    /// <summary>The instants at which this session must be looked at again (none when nothing is pending).</summary>
    public ImmutableArray<Deadline> Deadlines(SessionState session)
    {
        if (session.Phase == SessionPhase.Abandoned)
        {
            var segment = SegmentOf(session);
            if (session.NextStep >= segment.Steps.Length) return [];
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
        return segment.Steps.IsEmpty
            ? Close(shopper, abandoned, Outcomes.Abandoned, at, effects)
            : new Decision(shopper, abandoned, effects);
    }

    private Decision FireStep(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        var segment = SegmentOf(session);
        var step = segment.Steps[session.NextStep];
        var due = StepDue(session, segment);
        var effects = Effects.None;

        var suppression = SuppressionFor(shopper, session, segment, at, out var channel, out var consent, out var evidence);
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
            var code = step.Incentive ? RecoveryIds.IncentiveCode(Policy.Version, session, step.Number) : "";
            effects = effects
                .Add(Trigger(session, triggerId, TriggerKinds.Reminder, step.Number, channel!, DecisionReason.ReminderStep, at, due, code, consent!.EventId))
                .Add(Audit(session, AuditDecisions.Triggered, DecisionReason.ReminderStep, at, [consent.EventId, session.LastEventId], step.Number, channel!,
                    detail: $"trigger_id={triggerId}"));
            shopper = shopper with
            {
                Sent = shopper.Sent.Add(new SentMessage(at, triggerId, session.SessionId)),
                OpenIncentives = code.Length > 0 ? shopper.OpenIncentives.Add(new OpenIncentive(code, triggerId, session.SessionId, at)) : shopper.OpenIncentives,
            };
            session = session with { RemindersSent = session.RemindersSent + 1 };
        }

        session = session with { NextStep = session.NextStep + 1, DeferredUntil = null };
        return session.NextStep >= segment.Steps.Length
            ? Close(shopper, session, Outcomes.Abandoned, at, effects)
            : new Decision(shopper, session, effects);
    }

    /// <summary>Send-time suppression, in order of precedence. Returns null when the step may be sent, with the
    /// chosen channel and the consent it relies on.</summary>
    private string? SuppressionFor(ShopperState shopper, SessionState session, SegmentPolicy segment, DateTimeOffset at,
        out string? channel, out ConsentRecord? consent, out ImmutableArray<string> evidence)
    {
        channel = null;
        consent = null;
        evidence = [session.LastEventId];
        if (!session.HasCart) return SuppressionReason.CartEmptied;

        var bought = session.Lines.Keys
            .Select(sku => shopper.PurchasedSkus.TryGetValue(sku, out var purchase) && purchase.At > at - Policy.PurchaseMemory && purchase.At <= at ? purchase : (Purchase?)null)
            .ToList();
        if (bought.All(p => p is not null))
        {
            evidence = [.. bought.Select(p => p!.Value.EventId).Distinct().Order(StringComparer.Ordinal), session.LastEventId];
            return SuppressionReason.ItemsAlreadyBought;
        }

        foreach (var candidate in segment.ChannelPreference)
        {
            if (shopper.ConsentFor(RecoveryPurpose, candidate) is { Granted: true } record && record.At <= at)
            {
                channel = candidate;
                consent = record;
                break;
            }
        }
        if (consent is null)
        {
            var withdrawal = segment.ChannelPreference.Select(c => shopper.ConsentFor(RecoveryPurpose, c))
                .Where(r => r is { Granted: false }).OrderByDescending(r => r!.At).FirstOrDefault();
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

    private (SessionState Session, Effects Effects) ProactiveChat(SessionState session, DateTimeOffset at, string reason, ImmutableArray<string> evidence)
    {
        var triggerId = RecoveryIds.ProactiveChat(Policy.Version, session);
        var effects = Effects.None
            .Add(Trigger(session, triggerId, TriggerKinds.ProactiveChat, 0, ChatChannel, reason, at, at, "", ""))
            .Add(Audit(session, AuditDecisions.Triggered, reason, at, evidence, 0, ChatChannel, detail: $"trigger_id={triggerId}"));
        return (session with { ProactiveChatSent = true }, effects);
    }

    // ---------------------------------------------------------------- orders

    private Decision ApplyOrder(ShopperState shopper, SessionState? session, SessionEvent evt)
    {
        // A payment authorization carries no currency: its amount is in the currency of the session it pays for.
        var (orderLines, value, orderCurrency) = evt switch
        {
            OrderPlaced order => (order.Lines, order.Total, order.Currency),
            PaymentAuthorized payment => ((IReadOnlyList<CartLine>)[], payment.Amount, null),
            _ => throw new ArgumentOutOfRangeException(nameof(evt)),
        };
        var skus = orderLines.Count > 0 ? orderLines.Select(l => l.Sku) : session?.Lines.Keys ?? [];
        shopper = shopper with
        {
            PurchasedSkus = shopper.PurchasedSkus.SetItems(skus.Select(s => KeyValuePair.Create(s, new Purchase(evt.EventTime, evt.EventId)))),
            HasOrdered = true,
        };

        var effects = VoidIncentives(ref shopper, evt);

        if (session is null)
        {
            if (shopper.ClosedSessions.TryGetValue(evt.SessionId, out var closed))
            {
                // A late order for a finished session: an abandoned one now has its order (recovered if it was reminded);
                // an ordered one only confirms.
                if (closed.Outcome.Outcome != Outcomes.Abandoned) return new Decision(shopper, null, effects);
                var recovered = closed.Outcome with
                {
                    Outcome = OrderOutcome(closed.RemindersSent), OrderedAt = evt.EventTime, OrderValue = value,
                    OrderCurrency = orderCurrency ?? closed.Outcome.Currency, EndedAt = evt.EventTime,
                };
                shopper = shopper with { ClosedSessions = shopper.ClosedSessions.SetItem(evt.SessionId, closed with { Outcome = recovered }) };
                return new Decision(shopper, null, effects.Add(recovered));
            }
            // Purchases without a cart in the session are common (buy-now, another device): record the outcome.
            session = NewSession(shopper, evt) with { Lines = LinesOf(orderLines), HadCart = orderLines.Count > 0 };
            if (orderCurrency is not null) session = session with { Currency = orderCurrency, CurrencyFromPolicy = false };
        }

        session = Rescore(Touch(session, evt), evt.EventTime);
        var outcome = OrderOutcome(session.RemindersSent);
        if (session.Phase == SessionPhase.Abandoned)
        {
            var segment = SegmentOf(session);
            for (var i = session.NextStep; i < segment.Steps.Length; i++)
                effects = effects.Add(Audit(session, AuditDecisions.Suppressed, SuppressionReason.OrderPlaced, evt.EventTime, [evt.EventId],
                    segment.Steps[i].Number));
        }
        return Close(shopper, session, outcome, evt.EventTime, effects, orderedAt: evt.EventTime, orderValue: value,
            orderCurrency: orderCurrency ?? session.Currency);
    }

    /// <summary>An order is a recovery only after a reminder of its session was sent (the definition recovery_outcomes
    /// uses): an order after an idle spell but before any message, or in the holdout, is a normal order.</summary>
    private static string OrderOutcome(int remindersSent) => remindersSent > 0 ? Outcomes.AbandonedRecovered : Outcomes.Ordered;

    private Effects VoidIncentives(ref ShopperState shopper, SessionEvent order)
    {
        var effects = Effects.None;
        foreach (var incentive in shopper.OpenIncentives)
        {
            var voidId = RecoveryIds.IncentiveVoid(incentive.TriggerId);
            effects = effects.Add(new RecoveryTrigger
            {
                TriggerId = voidId, Kind = TriggerKinds.IncentiveVoid, ShopperId = shopper.ShopperId, SessionId = incentive.SessionId,
                Step = 0, Channel = "", Score = 0, Reason = DecisionReason.OrderVoidsIncentive, IncentiveCode = incentive.Code,
                PolicyVersion = Policy.Version, EventTime = order.EventTime, DueTime = order.EventTime,
            }).Add(Audit(shopper.ShopperId, incentive.SessionId, AuditDecisions.Triggered, DecisionReason.OrderVoidsIncentive, order.EventTime,
                [order.EventId, incentive.TriggerId], detail: $"trigger_id={voidId}"));
        }
        shopper = shopper with { OpenIncentives = [] };
        return effects;
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
        shopper = shopper with
        {
            ClosedSessions = shopper.ClosedSessions.RemoveRange(shopper.ClosedSessions.Where(c => c.Value.ClosedAt < horizon).Select(c => c.Key))
                .SetItem(session.SessionId, new ClosedSession(row, session.RemindersSent, session.Abandonments, session.Visits, session.TimeZone, at)),
            Sent = shopper.Sent.RemoveAll(s => s.At < at - MaxCapWindow()),
            PurchasedSkus = shopper.PurchasedSkus.RemoveRange(shopper.PurchasedSkus.Where(p => p.Value.At < at - Policy.PurchaseMemory).Select(p => p.Key)),
        };
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
        DateTimeOffset at, DateTimeOffset due, string incentiveCode, string consentEventId) => new()
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
