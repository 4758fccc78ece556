using System.Collections.Immutable;

namespace CartRecovery.Domain.Time;

/// <summary>What one event did to the partition's event-time frontier (<see cref="EventTimeFrontier.Observe"/>).</summary>
public enum FrontierVerdict
{
    /// <summary>Less than <c>max_future_skew</c> ahead of the frontier (or behind it): the frontier moves to it if it is newer.</summary>
    Accepted,
    /// <summary>At least the bound ahead, but another shopper's pending claim lies within the bound of it: two sources
    /// agree that the stream moved on (a gap in traffic), and the frontier jumps to it.</summary>
    Confirmed,
    /// <summary>At least the bound ahead and no other shopper vouches for that time: the frontier stays, and the event is
    /// remembered as its shopper's claim. Not a verdict on the clock yet: the next events decide (see
    /// <see cref="EventTimeFrontier"/>).</summary>
    Ahead,
    /// <summary>The partition has no frontier yet and no other shopper's event within the bound: remembered as a claim.</summary>
    Unanchored,
}

/// <summary>
/// A time one shopper's events put ahead of the frontier, not confirmed or refuted yet: the newest claimed time
/// (<see cref="At"/>), the first such event (the audit's evidence), how many there were, and the frontier when the first came.
/// Kept in the partition's checkpoint (the shopper id is removed by an erasure like the rest of the shopper's state).
/// </summary>
public readonly record struct AheadClaim(string ShopperId, DateTimeOffset At, string FirstEventId, string SessionId, int Events, DateTimeOffset? AheadOf);

/// <summary>One observation: the next frontier, the event's verdict, and the claims this event refuted (the caller audits
/// each as <c>future_event</c>, in its shopper's order).</summary>
public readonly record struct FrontierStep(EventTimeFrontier Frontier, FrontierVerdict Verdict, ImmutableArray<AheadClaim> Refuted);

/// <summary>
/// The event time the input of one partition tells, robust against one bad clock: the newest event time accepted so
/// far (<see cref="Accepted"/>; the watermark follows it, minus the allowed lateness). Pure: a function of the events in
/// input order only, never of the wall clock, so live runs, drains and replays move it alike.
///
/// The rule (README "Semantics", bound B = policy <c>max_future_skew</c>, default 2 h):
/// <list type="bullet">
/// <item>An event less than B ahead of the frontier moves it (to it, if newer). This is Kafka Streams' stream time
/// (the maximum timestamp seen) and Flink's <c>WatermarkStrategy.forBoundedOutOfOrderness</c> (max timestamp minus the
/// lateness) with one addition neither has: a bound on how far ahead one record may move it.</item>
/// <item>An event B or more ahead moves nothing at once: it becomes its shopper's claim (applied to that shopper as
/// usual). A gap in traffic and a device clock that is off look the same when the event arrives; the events after it
/// tell them apart. A later event of another shopper less than B from the claim <em>confirms</em> it (the stream really
/// moved on: the frontier jumps to that event). A later event of another shopper B or more <em>behind</em> the claim
/// <em>refutes</em> it: the rest of the input is still at the old time, so the claim was one bad clock; it is dropped and
/// reported (<see cref="FrontierStep.Refuted"/>, audited <c>future_event</c> / <c>event_time_ahead</c>). A claim the
/// frontier catches up with is dropped silently. So genuine traffic, whose times after a lull go on from the new time,
/// is never reported, and a device ahead on a busy partition is refuted by the next shopper's event, before it could
/// confirm anything.</item>
/// <item>Before a partition has a frontier, the first two shoppers whose events lie less than B apart set it (an old
/// consent and a device a year ahead look alike until then); until then nothing is late and only a shopper's own
/// events fire that shopper's deadlines.</item>
/// </list>
/// Claims are kept per shopper (one entry however many events), at most <see cref="MaxClaims"/>, the oldest dropped first.
/// All comparisons are differences, never sums: no instant near year 1 or 9999 can overflow.
/// </summary>
public sealed record EventTimeFrontier(DateTimeOffset? Accepted, ImmutableArray<AheadClaim> Claims)
{
    public const int MaxClaims = 16;

    public static readonly EventTimeFrontier Empty = new(null, []);

    /// <summary>From a watermark alone (a checkpoint written before the frontier was kept): its newest event time, no claims.</summary>
    public static EventTimeFrontier Resume(Watermark watermark) =>
        watermark == Watermark.Start || watermark.IsEndOfTime ? Empty : new EventTimeFrontier(watermark.Eager, []);

    /// <summary>Observes one event (<paramref name="eventId"/> of <paramref name="shopperId"/>'s session
    /// <paramref name="sessionId"/>, empty for shopper-wide events) at <paramref name="eventTime"/>.</summary>
    public FrontierStep Observe(string shopperId, DateTimeOffset eventTime, TimeSpan maxFutureSkew, string eventId = "", string sessionId = "")
    {
        var claims = Claims.IsDefault ? [] : Claims;
        // Another shopper's event far behind a claim: the input is still at the old time, the claim was a bad clock.
        var refuted = claims.RemoveAll(c => c.ShopperId == shopperId || c.At - eventTime < maxFutureSkew);
        if (!refuted.IsEmpty) claims = claims.RemoveAll(c => c.ShopperId != shopperId && c.At - eventTime >= maxFutureSkew);
        var rest = this with { Claims = claims };

        if (Accepted is { } accepted && eventTime - accepted < maxFutureSkew)
            return new(eventTime > accepted ? rest.Advanced(eventTime, maxFutureSkew) : rest, FrontierVerdict.Accepted, refuted);

        foreach (var claim in claims)
            if (claim.ShopperId != shopperId && (claim.At - eventTime).Duration() < maxFutureSkew)
                return new(rest.Advanced(eventTime, maxFutureSkew), FrontierVerdict.Confirmed, refuted);

        var own = claims.FirstOrDefault(c => c.ShopperId == shopperId);
        var mine = own.ShopperId is null
            ? new AheadClaim(shopperId, eventTime, eventId, sessionId, 1, Accepted)
            : own with { At = eventTime > own.At ? eventTime : own.At, Events = own.Events + 1 };
        claims = claims.RemoveAll(c => c.ShopperId == shopperId);
        if (claims.Length >= MaxClaims) claims = claims.RemoveAt(0);
        var next = this with { Claims = claims.Add(mine) };
        return new(next, Accepted is null ? FrontierVerdict.Unanchored : FrontierVerdict.Ahead, refuted);
    }

    /// <summary>The frontier without anything about <paramref name="shopperId"/> (an erasure).</summary>
    public EventTimeFrontier Forget(string shopperId) =>
        Claims.IsDefaultOrEmpty ? this : this with { Claims = Claims.RemoveAll(c => c.ShopperId == shopperId) };

    /// <summary>Whether a claim names <paramref name="shopperId"/>.</summary>
    public bool Names(string shopperId) => !Claims.IsDefaultOrEmpty && Claims.Any(c => c.ShopperId == shopperId);

    /// <summary>The frontier at <paramref name="to"/>; claims it has caught up with (now within the bound) are no longer ahead.</summary>
    private EventTimeFrontier Advanced(DateTimeOffset to, TimeSpan maxFutureSkew) =>
        new(to, Claims.IsDefaultOrEmpty ? [] : Claims.RemoveAll(c => c.At - to < maxFutureSkew));
}
