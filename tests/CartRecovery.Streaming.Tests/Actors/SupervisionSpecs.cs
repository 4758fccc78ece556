using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>An exception in decision code fails that shopper's event visibly (a dead letter with the cause) and nothing
/// else: the batch completes, the session keeps its state, the shopper's later events and other shoppers go on.</summary>
public sealed class SupervisionSpecs() : TestKit(Checkpointing.TestConfig.With(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-supervision-{Guid.NewGuid():N}.db"))))
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });

    [Fact]
    public void A_decision_that_throws_dead_letters_its_event_and_the_partition_goes_on()
    {
        var partition = Sys.ActorOf(PartitionActor.Props("supervision-" + Guid.NewGuid().ToString("N"), 0, _engine, new ProbeSink(TestActor)));
        var events = new List<ShopperEvent>
        {
            Consent("bad"), Started("bad"), Added("bad", 2, "lamp", 40m, 1),
            // The cart's value overflows decimal: the engine throws while deciding this event (injected fault).
            Added("bad", 3, "gold", decimal.MaxValue, 2),
            Added("bad", 4, "vase", 10m, 1),
            Consent("good"), Started("good"), Added("good", 2, "lamp", 40m, 1),
        };
        var records = Records(events);
        partition.Tell(new ProcessBatch(0, 1, records));
        var first = ExpectMsg<BatchCompleted>();

        var letter = Assert.Single(first.DeadLetters);
        Assert.Equal(RejectReasons.DecisionFailed, letter.Rejected!.Reason);
        Assert.Equal(records[3].Offset, letter.Offset);
        Assert.Contains(nameof(OverflowException), letter.Rejected.Detail);
        // The payload is the event as the worker understood it (entry would now refuse its price: read it as JSON).
        Assert.Equal("bad-3", (string?)System.Text.Json.Nodes.JsonNode.Parse(letter.Payload!)!["event_id"]);
        Assert.Equal(events.Count - 1, first.Events);
        Assert.Equal(events.Count, first.Events + first.DeadLetters.Count);

        partition.Tell(new Drain(0, 2));
        var drained = ExpectMsg<BatchCompleted>();
        // Both carts were abandoned and reminded; the bad shopper's holds the lines before and after the failed event.
        var badReminder = drained.Triggers.First(t => t.ShopperId == "bad");
        Assert.Equal(["lamp", "vase"], badReminder.CartLines.Select(l => l.Sku).Order().ToArray());
        Assert.Contains(drained.Triggers, t => t.ShopperId == "good");
        Assert.Equal(2, drained.Outcomes.Count);
    }

    [Fact]
    public void A_timer_whose_decision_throws_is_dead_lettered_and_only_its_session_is_dropped()
    {
        // Entry refuses such a time (EntryLimits); a restored or handed-over state can still carry one. As the partition's
        // first event it must not underflow the watermark, and the session's inactivity timer throws when it fires.
        var partition = Sys.ActorOf(PartitionActor.Props("supervision-" + Guid.NewGuid().ToString("N"), 0, _engine, new ProbeSink(TestActor)));
        var startOfTime = new DateTimeOffset(1, 1, 1, 0, 1, 0, TimeSpan.Zero);
        var events = new List<ShopperEvent>
        {
            Started("early") with { EventTime = startOfTime }, Added("early", 2, "lamp", 40m, 1) with { EventTime = startOfTime.AddMinutes(1) },
            Consent("good"), Started("good"), Added("good", 2, "lamp", 40m, 1),
        };
        partition.Tell(new ProcessBatch(0, 1, Records(events)));
        var first = ExpectMsg<BatchCompleted>();
        partition.Tell(new Drain(0, 2));
        var drained = ExpectMsg<BatchCompleted>();

        // The second event fails its decision (the dedup horizon before it is before the start of time); the session's
        // inactivity timer then fails when it fires.
        var letters = first.DeadLetters.Concat(drained.DeadLetters).ToList();
        Assert.Equal(2, letters.Count);
        Assert.Equal(("cart-events", 1L, RejectReasons.DecisionFailed), (letters[0].Topic, letters[0].Offset, letters[0].Rejected!.Reason));
        var letter = letters[1];
        Assert.Equal((DecisionFailures.TimerSource, -1L, RejectReasons.DecisionFailed), (letter.Topic, letter.Offset, letter.Rejected!.Reason));
        Assert.StartsWith("Inactivity deadline: ArgumentOutOfRangeException", letter.Rejected.Detail);
        var payload = System.Text.Json.Nodes.JsonNode.Parse(letter.Payload!)!;
        Assert.Equal(("early", "early-sess", "Inactivity"), ((string?)payload["shopper_id"], (string?)payload["session_id"], (string?)payload["deadline"]));
        // Every event was decided; the other shopper was reminded and ended; the failed session was dropped, not retried.
        Assert.Equal(events.Count - 1, first.Events);
        Assert.Contains(first.Triggers.Concat(drained.Triggers), t => t.ShopperId == "good");
        Assert.DoesNotContain(first.Outcomes.Concat(drained.Outcomes), o => o.ShopperId == "early");
        Assert.Equal(0, drained.ActiveSessions);
    }

    [Fact]
    public void A_shopper_wide_decision_the_partition_takes_itself_that_throws_dead_letters_only_its_event()
    {
        // Consent, payment-pending and outcome events are decided by the partition actor, not a session actor: the same
        // containment holds there. A second consent at the start of time throws in its decision (its dedup horizon).
        var partition = Sys.ActorOf(PartitionActor.Props("supervision-" + Guid.NewGuid().ToString("N"), 0, _engine, new ProbeSink(TestActor)));
        var startOfTime = new DateTimeOffset(1, 1, 1, 0, 1, 0, TimeSpan.Zero);
        var events = new List<ShopperEvent>
        {
            Consent("early") with { EventTime = startOfTime }, Consent("early") with { EventId = "early-c2", EventTime = startOfTime.AddMinutes(1) },
            Consent("good"), Started("good"), Added("good", 2, "lamp", 40m, 1),
        };
        partition.Tell(new ProcessBatch(0, 1, Records(events)));
        var first = ExpectMsg<BatchCompleted>();
        partition.Tell(new Drain(0, 2));
        var drained = ExpectMsg<BatchCompleted>();

        var letter = Assert.Single(first.DeadLetters);
        Assert.Equal(("consent-events", 1L, RejectReasons.DecisionFailed), (letter.Topic, letter.Offset, letter.Rejected!.Reason));
        Assert.Equal(events.Count - 1, first.Events);
        Assert.Contains(drained.Triggers, t => t.ShopperId == "good");
    }

    [Fact]
    public void A_cart_at_the_end_of_time_that_bypasses_entry_stops_nothing()
    {
        // The reproduction of issue 21 (RecoveryEngine.Deadlines overflowed outside the decision's supervision), on a
        // partition of its own so that the jump of event time does not make the other shoppers late.
        var partition = Sys.ActorOf(PartitionActor.Props("supervision-" + Guid.NewGuid().ToString("N"), 0, _engine, new ProbeSink(TestActor)));
        var endOfTime = new DateTimeOffset(9999, 12, 31, 23, 0, 0, TimeSpan.Zero);
        var events = new List<ShopperEvent>
        {
            Consent("late") with { EventTime = endOfTime.AddMinutes(-10) }, Started("late") with { EventTime = endOfTime },
            Added("late", 2, "lamp", 40m, 1) with { EventTime = endOfTime.AddMinutes(59) },
            CheckoutAt("late", endOfTime.AddMinutes(59.5)),
        };
        partition.Tell(new ProcessBatch(0, 1, Records(events)));
        var first = ExpectMsg<BatchCompleted>();
        partition.Tell(new Drain(0, 2));
        var drained = ExpectMsg<BatchCompleted>();

        // Its deadlines saturate at the end of DateTimeOffset instead of overflowing: every event decided, nothing failed.
        Assert.Equal(events.Count, first.Events);
        Assert.Empty(first.DeadLetters.Concat(drained.DeadLetters));
    }

    private static CheckoutStarted CheckoutAt(string shopper, DateTimeOffset at) => new()
    {
        EventId = $"{shopper}-checkout", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = at,
    };

    private static ConsentGranted Consent(string shopper) => new()
    {
        EventId = $"{shopper}-c", ShopperId = shopper, EventTime = T0.AddDays(-1), Purpose = "cart_recovery", Channel = "email",
        Source = "checkout_form", WordingVersion = "v3",
    };

    private static SessionStarted Started(string shopper) => new()
    {
        EventId = $"{shopper}-1", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = T0, TimeZone = "UTC",
    };

    private static CartLineAdded Added(string shopper, int n, string sku, decimal price, int quantity) => new()
    {
        EventId = $"{shopper}-{n}", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = T0.AddMinutes(n),
        Line = new CartLine { Sku = sku, Name = sku, UnitPrice = price, Quantity = quantity },
    };

    private static List<InputRecord> Records(IEnumerable<ShopperEvent> events)
    {
        var offsets = new Dictionary<string, long>();
        return events.Select(e =>
        {
            var topic = e is ConsentEvent ? "consent-events" : "cart-events";
            var offset = offsets.GetValueOrDefault(topic);
            offsets[topic] = offset + 1;
            return new InputRecord(topic, 0, offset, e, null);
        }).ToList();
    }
}
