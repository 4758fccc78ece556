using System.Collections.Immutable;
using System.Runtime.InteropServices;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Domain.Decisions;

/// <summary>Input is at least once and out of order: a redelivered event is applied once, and a late event is audited
/// (and, when it is older than the abandonment, not taken for the shopper coming back).</summary>
public sealed partial class RecoveryEngine
{
    /// <summary>True when the shopper's recent events already hold this event_id: the event is not applied again and
    /// <paramref name="effects"/> is its <c>duplicate_event</c> audit row. Otherwise the id is remembered for the policy's
    /// dedup horizon (event time, counted from the shopper's newest event), and older ids are forgotten.</summary>
    private bool IsRedelivery(ref ShopperState shopper, ShopperEvent evt, string sessionId, out Effects effects)
    {
        if (IsRedelivery(shopper, evt, sessionId, out effects, out var seen)) return true;
        shopper = shopper with { SeenEvents = seen };
        return false;
    }

    /// <summary><see cref="IsRedelivery(ref ShopperState, ShopperEvent, string, out Effects)"/> without the copy of the
    /// shopper: <paramref name="seen"/> is what <see cref="ShopperState.SeenEvents"/> becomes, so a caller that changes
    /// the shopper further copies it once (the session path, on every event: docs/performance.md, session 6).</summary>
    private bool IsRedelivery(ShopperState shopper, ShopperEvent evt, string sessionId, out Effects effects, out ImmutableArray<SeenEvent> seen)
    {
        var id = DeterministicId.Hash64(evt.EventId);
        foreach (var earlier in shopper.SeenEvents)
        {
            if (earlier.IdHash != id) continue;
            effects = Effects.None.Add(Rows.Audit(shopper.ShopperId, sessionId, AuditDecisions.DuplicateEvent, DecisionReason.Redelivered, evt.EventTime,
                [evt.EventId], detail: $"event_id already applied (event time {earlier.AtUtc:O}); not applied again"));
            seen = shopper.SeenEvents;
            return true;
        }
        effects = Effects.None;
        seen = Remembered(shopper.SeenEvents, evt.EventTime, new SeenEvent(id, evt.EventTime.UtcDateTime));
        return false;
    }

    /// <summary><see cref="WithinDedupHorizon"/> with <paramref name="added"/> after them, built as one array (this runs on
    /// every event; the forgetting and the adding made two).</summary>
    private ImmutableArray<SeenEvent> Remembered(ImmutableArray<SeenEvent> seen, DateTimeOffset now, SeenEvent added)
    {
        if (seen.IsDefaultOrEmpty) return [added];
        var horizon = DedupHorizonOf(seen, now);
        var kept = 0;
        foreach (var s in seen) if (s.AtUtc >= horizon) kept++;
        var remembered = new SeenEvent[kept + 1];
        var i = 0;
        foreach (var s in seen) if (s.AtUtc >= horizon) remembered[i++] = s;
        remembered[i] = added;
        return ImmutableCollectionsMarshal.AsImmutableArray(remembered);
    }

    /// <summary>The seen ids still inside the dedup horizon of the newest of them and <paramref name="now"/>.</summary>
    private ImmutableArray<SeenEvent> WithinDedupHorizon(ImmutableArray<SeenEvent> seen, DateTimeOffset now)
    {
        if (seen.IsDefaultOrEmpty) return [];
        var horizon = DedupHorizonOf(seen, now);
        foreach (var s in seen)
            if (s.AtUtc < horizon) return Forget(seen, horizon);
        return seen;
    }

    // Apart, so the lambda's closure is allocated only when something is forgotten, not on every call.
    private static ImmutableArray<SeenEvent> Forget(ImmutableArray<SeenEvent> seen, DateTime horizon) => seen.RemoveAll(x => x.AtUtc < horizon);

    private DateTime DedupHorizonOf(ImmutableArray<SeenEvent> seen, DateTimeOffset now)
    {
        var newest = now.UtcDateTime;
        foreach (var s in seen) if (s.AtUtc > newest) newest = s.AtUtc;
        return newest - Policy.DedupHorizon;
    }

    private Effects LateAudit(ShopperState shopper, ShopperEvent evt, string sessionId, Watermark watermark) =>
        watermark.IsLate(evt.EventTime)
            ? Effects.None.Add(Rows.Audit(shopper.ShopperId, sessionId, AuditDecisions.LateEvent, DecisionReason.BeyondAllowedLateness,
                evt.EventTime, [evt.EventId], detail: $"event time before watermark {watermark.Settled:O}"))
            : Effects.None;

    /// <summary>The audit row of a claim the input refuted (<see cref="FrontierStep.Refuted"/>): one shopper's events put
    /// <c>max_future_skew</c> or more ahead of the partition's event time, and a later event of another shopper showed the
    /// input still at the old time (a device clock that is off). Stamped at that later event's time (a claimed year 9999
    /// fits no table), the claimed time in the detail, the first such event as evidence.</summary>
    public AuditRecord FutureEventAudit(AheadClaim claim, DateTimeOffset refutedAt) =>
        Rows.Audit(claim.ShopperId, claim.SessionId, AuditDecisions.FutureEvent, DecisionReason.EventTimeAhead, refutedAt, [claim.FirstEventId],
            detail: $"{claim.Events} event(s) up to {claim.At:O}, at least max_future_skew={Policy.MaxFutureSkew:c} ahead of the partition's " +
            $"event time ({(claim.AheadOf is { } of ? of.ToString("O") : "none yet")}); another shopper's event at {refutedAt:O} came after them: " +
            "applied to their shopper, no watermark moved");

    /// <summary>Why an event for an abandoned session is late news rather than the shopper coming back, or null when the
    /// shopper did come back: it happened before the abandonment, or before a reminder of the case that has gone out.</summary>
    private static string? LateNewsReason(SessionState abandoned, ShopperEvent evt) =>
        evt.EventTime < abandoned.AbandonedAt ? DecisionReason.BeforeAbandonment
        : evt.EventTime < abandoned.LastReminderAt ? DecisionReason.BeforeLastReminder
        : null;

    /// <summary>From when an event of a finished session is the shopper coming back: after its abandonment (an abandoned
    /// cart), else after it ended (an order, an emptied cart, a browse).</summary>
    private static DateTimeOffset ReturnsAfter(ClosedSession closed) => closed.Outcome.AbandonedAt ?? closed.Outcome.EndedAt;
}
