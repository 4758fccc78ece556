using System.Collections.Immutable;
using CartRecovery.Domain.Decisions;

namespace CartRecovery.Domain.Time;

/// <summary>What one event did to the partition's event-time frontier (<see cref="EventTimeFrontier.Observe"/>).</summary>
public enum FrontierVerdict
{
    /// <summary>Within <c>max_future_skew</c> of the frontier (or behind it): the frontier moves to it if it is newer.</summary>
    Accepted,
    /// <summary>Further ahead than the bound, but another shopper's event within the bound of it says the stream really
    /// moved on (a gap in traffic): the frontier jumps to it.</summary>
    Confirmed,
    /// <summary>Further ahead than the bound and no other shopper vouches for that time (one bad clock): the frontier
    /// stays, and the event is remembered as a claim another shopper may confirm later.</summary>
    Ahead,
    /// <summary>The partition has no frontier yet and no other shopper's event within the bound: remembered as a claim.</summary>
    Unanchored,
}

/// <summary>An event time a source (a shopper, hashed: no id in checkpoints) put ahead of the frontier, not confirmed yet.</summary>
public readonly record struct AheadClaim(ulong Source, DateTimeOffset At);

/// <summary>
/// The event time the input of one partition tells, robust against one bad clock: the newest event time accepted so
/// far (<see cref="Accepted"/>; the watermark follows it, minus the allowed lateness). Pure: a function of the events in
/// input order only, never of the wall clock, so live runs, drains and replays move it alike.
///
/// The rule (README "Event time"): an event at most <c>max_future_skew</c> ahead of the frontier moves it, as
/// Flink's bounded-out-of-orderness strategy and Kafka Streams' stream time would. An event further ahead moves it only
/// when a *different* shopper has an unconfirmed event within the bound of it: two independent sources agreeing that
/// time jumped is a real gap in traffic (a replay's overnight pause), one source alone is a device clock that is off (by
/// hours, months or to year 9999). Such an event is still applied to its own shopper; it just moves nobody else's time
/// (<see cref="FrontierVerdict.Ahead"/>: the caller audits it). Before a partition has a frontier, the first two
/// shoppers whose events lie within the bound of each other set it; until then nothing is late and only a shopper's own
/// events fire that shopper's deadlines. Claims are kept per source (the newest), at most <see cref="MaxClaims"/>, the
/// oldest dropped first, so a stream of one device's skewed events costs one entry.
/// </summary>
public sealed record EventTimeFrontier(DateTimeOffset? Accepted, ImmutableArray<AheadClaim> Claims)
{
    public const int MaxClaims = 16;

    public static readonly EventTimeFrontier Empty = new(null, []);

    /// <summary>From a watermark alone (a checkpoint written before the frontier was kept): its newest event time, no claims.</summary>
    public static EventTimeFrontier Resume(Watermark watermark) =>
        watermark == Watermark.Start || watermark.IsEndOfTime ? Empty : new EventTimeFrontier(watermark.Eager, []);

    /// <summary>Observes one event of <paramref name="shopperId"/> at <paramref name="eventTime"/>. <c>AheadOf</c>, for an
    /// <see cref="FrontierVerdict.Ahead"/> event: the frontier it is ahead of.</summary>
    public (EventTimeFrontier Frontier, FrontierVerdict Verdict, DateTimeOffset? AheadOf) Observe(string shopperId, DateTimeOffset eventTime,
        TimeSpan maxFutureSkew)
    {
        // Differences, not sums: no instant near year 1 or 9999 can overflow.
        if (Accepted is { } accepted && eventTime - accepted <= maxFutureSkew)
            return (eventTime > accepted ? Advanced(eventTime, maxFutureSkew) : this, FrontierVerdict.Accepted, null);

        var source = DeterministicId.Hash64(shopperId);
        foreach (var claim in Claims)
            if (claim.Source != source && (claim.At - eventTime).Duration() <= maxFutureSkew)
                return (Advanced(eventTime, maxFutureSkew), FrontierVerdict.Confirmed, null);

        var claims = Claims.RemoveAll(c => c.Source == source);
        if (claims.Length >= MaxClaims) claims = claims.RemoveAt(0);
        var next = this with { Claims = claims.Add(new AheadClaim(source, eventTime)) };
        // Before the partition has a frontier there is nothing to be ahead of: an old record (a consent given last month)
        // and a device a year ahead look alike until two shoppers agree on a time.
        return Accepted is null ? (next, FrontierVerdict.Unanchored, null) : (next, FrontierVerdict.Ahead, Accepted);
    }

    /// <summary>The frontier at <paramref name="to"/>; claims it has caught up with (now within the bound) are no longer ahead.</summary>
    private EventTimeFrontier Advanced(DateTimeOffset to, TimeSpan maxFutureSkew) =>
        new(to, Claims.IsDefaultOrEmpty ? [] : Claims.RemoveAll(c => c.At - to <= maxFutureSkew));
}
