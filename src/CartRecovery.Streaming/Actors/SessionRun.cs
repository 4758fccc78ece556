using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;

namespace CartRecovery.Streaming.Actors;

/// <summary>One of a shopper's events, with the partition's watermark when it was read.</summary>
public readonly record struct StampedEvent(SessionEvent Event, Watermark Watermark);

/// <summary>
/// A run of one session's consecutive events (a shopper's events of a batch travel to the session's actor in one message),
/// applied in order with the same decisions as one command each: before each event after the first, the run stops when
/// any deadline of the shopper is due (the session's own, another session's, the shopper's own), so the partition fires
/// it first, exactly as it would between two single commands. It stops too when the session ends or only waits (its
/// actor stops), and at an event whose decision throws (the state stays the one before it). Pure: state in, result out.
/// </summary>
public static class SessionRun
{
    /// <summary>What a run did. <see cref="Consumed"/> events of the run were taken (the last of them the failed one when
    /// <see cref="Failure"/> is set); the rest go back to the shopper's queue. <see cref="Deadlines"/>: the session's
    /// pending deadlines when it stays live (none when it ended or only waits; default when no event was applied: the
    /// deadlines the partition holds are still the session's).</summary>
    public sealed record Result(ShopperState Shopper, SessionState? Session, ImmutableArray<Deadline> Deadlines, IReadOnlyList<Effects> Effects,
        int Consumed, Exception? Failure);

    /// <param name="otherDeadlines">The pending deadlines of the shopper's other sessions (fixed during the run: only this
    /// session changes).</param>
    public static Result Apply(RecoveryEngine engine, ShopperState shopper, SessionState? session, ImmutableArray<StampedEvent> events,
        ImmutableArray<Deadline> otherDeadlines)
    {
        ImmutableArray<Deadline> deadlines = default;
        var effects = new List<Effects>(1);
        for (var i = 0; i < events.Length; i++)
        {
            var (evt, watermark) = events[i];
            if (i > 0 && (session is null || session.Phase == SessionPhase.Abandoned || AnyDue(engine, shopper, deadlines, otherDeadlines, evt, watermark)))
                return new Result(shopper, session, deadlines, effects, i, null);
            Decision decision;
            ImmutableArray<Deadline> next;
            // The new state's deadlines are part of the decision: computing them may fail like the rest of it.
            try
            {
                decision = engine.Apply(shopper, session, evt, watermark);
                next = LiveDeadlines(engine, decision.Session);
            }
            catch (Exception e) { return new Result(shopper, session, deadlines, effects, i + 1, e); }
            shopper = decision.Shopper;
            session = decision.Session;
            deadlines = next;
            if (!decision.Effects.IsEmpty) effects.Add(decision.Effects);
        }
        return new Result(shopper, session, deadlines, effects, events.Length, null);
    }

    /// <summary>The session's pending deadlines, when it stays live in its actor (a waiting session's are the store's).</summary>
    public static ImmutableArray<Deadline> LiveDeadlines(RecoveryEngine engine, SessionState? session) =>
        session is { Phase: not SessionPhase.Abandoned } live ? engine.Deadlines(live) : [];

    private static bool AnyDue(RecoveryEngine engine, ShopperState shopper, ImmutableArray<Deadline> own, ImmutableArray<Deadline> others,
        SessionEvent next, Watermark stamp) =>
        RecoveryEngine.DueAmong(own, stamp, next.EventTime) is not null
        || RecoveryEngine.DueAmong(others, stamp, next.EventTime) is not null
        || engine.DueShopperDeadline(shopper, stamp, next.EventTime) is not null;
}
