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
        Assert.Equal("bad-3", EventParser.Parse(letter.Payload!).Event!.EventId);
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
