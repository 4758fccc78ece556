using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Actors;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>A shopper's events of one session travel to its actor in one message and are decided exactly as one command
/// each would be: the same state, effects and deadlines; the run stops where the partition must step in first.</summary>
public sealed class SessionRunTests : TestKit
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lateness = TimeSpan.FromMinutes(5);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });

    [Fact]
    public void A_run_decides_like_one_command_per_event()
    {
        var shopper = Consented("s");
        var run = Stamped(Browse("s", "s1", T0, lines: 40));

        var together = SessionRun.Apply(_engine, shopper, null, run, []);

        var (oneByOne, session, effects) = (shopper, (SessionState?)null, new List<Effects>());
        foreach (var (evt, watermark) in run)
        {
            var decision = _engine.Apply(oneByOne, session, evt, watermark);
            (oneByOne, session) = (decision.Shopper, decision.Session);
            if (!decision.Effects.IsEmpty) effects.Add(decision.Effects);
        }
        Assert.Equal(run.Length, together.Consumed);
        Assert.Null(together.Failure);
        // Records hold immutable collections (compared by reference): compare what they hold.
        Assert.Equal(JsonSerializer.Serialize(session), JsonSerializer.Serialize(together.Session));
        Assert.Equal(JsonSerializer.Serialize(oneByOne), JsonSerializer.Serialize(together.Shopper));
        Assert.Equal(effects.SelectMany(e => e.Audits), together.Effects.SelectMany(e => e.Audits));
        Assert.Equal(_engine.Deadlines(session!).ToArray(), together.Deadlines.ToArray());
        Assert.Equal(40, together.Session!.Lines.Count);
    }

    [Fact]
    public void A_run_stops_before_an_event_that_a_deadline_of_the_session_precedes()
    {
        var shopper = Consented("s");
        // The cart idles past the inactivity timeout before the shopper's next event: the session is abandoned in between,
        // which the partition decides (its timer) before that event.
        var events = Browse("s", "s1", T0, lines: 2).Append(Line("s", "s1", T0.AddHours(3), "late")).ToList();
        var result = SessionRun.Apply(_engine, shopper, null, Stamped(events), []);
        Assert.Equal(events.Count - 1, result.Consumed);
        Assert.Null(result.Failure);
        Assert.Equal(2, result.Session!.Lines.Count);
    }

    [Fact]
    public void A_run_stops_before_an_event_that_another_session_s_deadline_precedes()
    {
        var shopper = Consented("s");
        var events = Browse("s", "s1", T0, lines: 3);
        var other = ImmutableArray.Create(new Deadline(T0.AddMinutes(2), DeadlineKind.Inactivity));
        var result = SessionRun.Apply(_engine, shopper, null, Stamped(events), other);
        // Events up to the other session's deadline are decided; the first one after it waits for the partition to fire it.
        Assert.Equal(events.Count(e => e.EventTime <= T0.AddMinutes(2)), result.Consumed);
    }

    [Fact]
    public void An_event_whose_decision_throws_ends_the_run_with_the_state_before_it()
    {
        var shopper = Consented("s");
        var events = Browse("s", "s1", T0, lines: 2).ToList();
        events.Insert(3, Line("s", "s1", T0.AddSeconds(150), "gold", decimal.MaxValue, quantity: 2)); // overflows the cart value
        var result = SessionRun.Apply(_engine, shopper, null, Stamped(events), []);
        Assert.Equal(4, result.Consumed);
        Assert.IsType<OverflowException>(result.Failure);
        Assert.Equal(["sku-0", "sku-1"], result.Session!.Lines.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_session_actor_decides_many_events_sent_in_one_message_and_answers_once()
    {
        var actor = Sys.ActorOf(SessionActor.Props(_engine, null));
        var run = Stamped(Browse("s", "s1", T0, lines: 100));
        actor.Tell(new ApplyEvents(Consented("s"), run, []));
        var decided = ExpectMsg<SessionDecided>();
        Assert.Equal(run.Length, decided.Consumed);
        Assert.False(decided.Ended);
        Assert.Null(decided.Passivated);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // A checkpoint's copy does not stop it; it keeps the state for the next message.
        Watch(actor);
        actor.Tell(CopyState.Instance);
        Assert.Equal(100, ExpectMsg<SessionStateCopy>().State.Lines.Count);
        actor.Tell(new ApplyEvents(decided.Shopper, Stamped([Line("s", "s1", T0.AddMinutes(20), "one-more")]), []));
        ExpectMsg<SessionDecided>();
        actor.Tell(ReportState.Instance);
        Assert.Equal(101, ExpectMsg<SessionStateOwned>().State!.Lines.Count);
    }

    private static ShopperState Consented(string shopperId) =>
        ShopperState.New(shopperId) with { };

    /// <summary>A session start and <paramref name="lines"/> cart additions, 10 s apart.</summary>
    private static IEnumerable<SessionEvent> Browse(string shopper, string session, DateTimeOffset start, int lines)
    {
        yield return new SessionStarted { EventId = $"{session}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        for (var i = 0; i < lines; i++) yield return Line(shopper, session, start.AddSeconds(10 * (i + 1)), $"sku-{i}");
    }

    private static CartLineAdded Line(string shopper, string session, DateTimeOffset at, string sku, decimal price = 30m, int quantity = 1) => new()
    {
        EventId = $"{session}-add-{sku}", ShopperId = shopper, SessionId = session, EventTime = at,
        Line = new CartLine { Sku = sku, Name = sku, UnitPrice = price, Quantity = quantity },
    };

    /// <summary>Each event stamped with the watermark the partition would have when it read it (in order).</summary>
    private static ImmutableArray<StampedEvent> Stamped(IEnumerable<SessionEvent> events)
    {
        var watermark = Watermark.Start;
        var stamped = ImmutableArray.CreateBuilder<StampedEvent>();
        foreach (var evt in events)
        {
            watermark = watermark.Observe(evt.EventTime, Lateness);
            stamped.Add(new StampedEvent(evt, watermark));
        }
        return stamped.ToImmutable();
    }
}
