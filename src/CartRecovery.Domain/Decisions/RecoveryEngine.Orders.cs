using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>Orders, payments and incentive codes: a purchase anywhere ends the reminders, a pending payment holds
/// them, a reminder never lists an item bought since, and every code is voided when it expires or its shopper orders.</summary>
public sealed partial class RecoveryEngine
{
    /// <summary>Applies a pending payment reported by the payment processor: it holds the reminders of the carts it may
    /// pay for (see <see cref="PendingPaymentFor"/>) until it is resolved or the policy's hold runs out.</summary>
    public Decision Apply(ShopperState shopper, PaymentPending evt, Watermark watermark)
    {
        if (IsRedelivery(ref shopper, evt, evt.SessionId ?? "", out var duplicate)) return new Decision(shopper, null, duplicate);
        var effects = LateAudit(shopper, evt, evt.SessionId ?? "", watermark);
        shopper = shopper with
        {
            PendingPayments = shopper.PendingPayments.RemoveAll(p => p.At + Policy.PaymentPendingHold < evt.EventTime)
                .Add(new PendingPayment(evt.EventTime, evt.EventId, evt.SessionId is null ? null : SharedStrings.Of(evt.SessionId))),
        };
        return new Decision(shopper, null, effects);
    }

    private Decision ApplyOrder(ShopperState shopper, SessionState? session, SessionEvent evt)
    {
        // A payment authorization carries no currency: its amount is in the currency of the session it pays for.
        var (orderLines, value, orderCurrency) = evt switch
        {
            OrderPlaced order => (order.Lines, order.Total, order.Currency),
            PaymentAuthorized payment => ((IReadOnlyList<CartLine>)[], payment.Amount, (string?)null),
            _ => throw new ArgumentOutOfRangeException(nameof(evt)),
        };
        var skus = orderLines.Count > 0 ? orderLines.Select(l => l.Sku) : session?.Lines.Keys ?? [];
        shopper = shopper with
        {
            PurchasedSkus = shopper.PurchasedSkus.SetItems(skus.Select(s => KeyValuePair.Create(s, new Purchase(evt.EventTime, evt.EventId)))),
            HasOrdered = true,
            // Remembered for the shopper's other carts: each one left before this order ends its case at its next step.
            Orders = shopper.Orders.RemoveAll(o => o.At < evt.EventTime - Policy.PurchaseMemory)
                .Add(new ShopperOrder(evt.EventTime, evt.EventId, SharedStrings.Of(evt.SessionId))),
            // The payment that was pending has gone through (or another did): nothing is pending any more.
            PendingPayments = shopper.PendingPayments.RemoveAll(p => p.At <= evt.EventTime),
        };

        var effects = VoidIncentives(ref shopper, _ => true, evt.EventTime, evt.EventId);

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
            session = Sessions.Open(shopper, evt) with { Lines = SessionEvolution.LinesOf(orderLines), HadCart = orderLines.Count > 0 };
            if (orderCurrency is not null) session = session with { Currency = orderCurrency, CurrencyFromPolicy = false };
        }

        session = Sessions.RescoreCopy(SessionEvolution.Touch(session, evt), evt.EventTime);
        var outcome = OrderOutcome(session.RemindersSent);
        if (session.Phase == SessionPhase.Abandoned)
            effects = effects.Concat(SuppressRemainingSteps(session, SegmentOf(session), SuppressionReason.OrderPlaced, evt.EventTime, [evt.EventId]));
        return Close(shopper, session, outcome, evt.EventTime, effects, orderedAt: evt.EventTime, orderValue: value,
            orderCurrency: orderCurrency ?? session.Currency);
    }

    /// <summary>An order is a recovery only after a reminder of its session was sent (the definition recovery_outcomes
    /// uses): an order after an idle spell but before any message, or in the holdout, is a normal order.</summary>
    private static string OrderOutcome(int remindersSent) => remindersSent > 0 ? Outcomes.AbandonedRecovered : Outcomes.Ordered;

    /// <summary>A failed payment resolves the payments pending in its session (and those reported without a session):
    /// the shopper has not paid, so reminders may go again.</summary>
    private static ShopperState ResolvePendingPayments(ShopperState shopper, string sessionId, DateTimeOffset at) =>
        shopper.PendingPayments.IsEmpty ? shopper : shopper with
        {
            PendingPayments = shopper.PendingPayments.RemoveAll(p => p.At <= at && (p.SessionId is null || p.SessionId == sessionId)),
        };

    /// <summary>The latest expiry of the codes this session issued that are still valid at <paramref name="at"/>.</summary>
    private static DateTimeOffset? CodeValidUntil(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        DateTimeOffset? latest = null;
        foreach (var incentive in shopper.OpenIncentives)
            if (incentive.SessionId == session.SessionId && incentive.ExpiresAt > at && (latest is null || incentive.ExpiresAt > latest))
                latest = incentive.ExpiresAt;
        return latest;
    }

    /// <summary>The session's codes ran out: void them (an incentive_void trigger and an audit row each), then the case ends.</summary>
    private Decision ExpireIncentives(ShopperState shopper, SessionState session, DateTimeOffset at)
    {
        var effects = VoidIncentives(ref shopper, i => i.SessionId == session.SessionId && i.ExpiresAt <= at, at, "");
        var remaining = CodeValidUntil(shopper, session, at);
        return remaining is { } later
            ? new Decision(shopper, session with { IncentiveExpiresAt = later }, effects)
            : Close(shopper, session with { IncentiveExpiresAt = null }, Outcomes.Abandoned, at, effects, caseEndedWithoutOrder: true);
    }

    /// <summary>Voids the open codes that <paramref name="select"/> picks: one past its expiry is voided as expired, at its
    /// expiry; any other because the shopper ordered (<paramref name="orderEventId"/>), at <paramref name="at"/>.</summary>
    private Effects VoidIncentives(ref ShopperState shopper, Func<OpenIncentive, bool> select, DateTimeOffset at, string orderEventId)
    {
        if (shopper.OpenIncentives.IsEmpty) return Effects.None;
        var effects = Effects.None;
        var kept = ImmutableList.CreateBuilder<OpenIncentive>();
        foreach (var incentive in shopper.OpenIncentives)
        {
            if (!select(incentive))
            {
                kept.Add(incentive);
                continue;
            }
            var expired = incentive.ExpiresAt <= at;
            var (reason, when) = expired ? (DecisionReason.IncentiveExpired, incentive.ExpiresAt) : (DecisionReason.OrderVoidsIncentive, at);
            ImmutableArray<string> evidence = expired ? [incentive.TriggerId] : [orderEventId, incentive.TriggerId];
            var voidId = RecoveryIds.IncentiveVoid(incentive.TriggerId);
            effects = effects.Add(Rows.IncentiveVoid(shopper.ShopperId, incentive, voidId, reason, when)).Add(Rows.Audit(shopper.ShopperId, incentive.SessionId, AuditDecisions.Triggered, reason, when, evidence,
                detail: $"trigger_id={voidId} code_issued={incentive.IssuedAt:O} expires={incentive.ExpiresAt:O}"));
        }
        shopper = shopper with { OpenIncentives = kept.ToImmutable() };
        return effects;
    }
}
