using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts;
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

/// <summary>
/// Two partition actors, the device's (partition 0) and the customer's (partition 1): what the device's partition
/// forwards is delivered to the customer's as the input topic would (serialized and parsed again, on cart-events),
/// in either order relative to the customer's own events, once or twice, across a checkpoint.
/// </summary>
public sealed class IdentityLinkSpecs() : TestKit(Checkpointing.TestConfig.With(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-identity-{Guid.NewGuid():N}.db"))))
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 16, 0, 0, TimeSpan.Zero);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });
    private static int _groups;

    [Fact]
    public void The_customers_order_ends_the_devices_cart_whether_it_arrives_before_or_after_the_hand_over()
    {
        string Run(bool handOverFirst)
        {
            var (device, deviceProbe) = Partition(0);
            var (customer, customerProbe) = Partition(1);
            var offsets = new Offsets();
            device.Tell(new ProcessBatch(0, 1, offsets.Records(0, DeviceCart("dev-1", "s-1").Append(Link("dev-1", "cust-1", T0.AddMinutes(3))))), deviceProbe.Ref);
            var handOver = AsInput(Assert.Single(deviceProbe.ExpectMsg<BatchCompleted>().Forwards!));
            Assert.IsType<IdentityMerged>(handOver);

            var order = new OrderPlaced
            {
                EventId = "o-1", ShopperId = "cust-1", SessionId = "s-1", EventTime = T0.AddMinutes(5), OrderId = "o-1", Total = 24m,
                Lines = [new CartLine { Sku = "mug", Name = "mug", UnitPrice = 24m, Quantity = 1 }],
            };
            ShopperEvent[][] arrivals = handOverFirst ? [[handOver], [order]] : [[order], [handOver]];
            long sequence = 0;
            foreach (var arrival in arrivals) customer.Tell(new ProcessBatch(1, ++sequence, offsets.Records(1, arrival)), customerProbe.Ref);
            customer.Tell(new Drain(1, ++sequence), customerProbe.Ref);
            device.Tell(new Drain(0, 2), deviceProbe.Ref);
            var batches = Enumerable.Range(0, (int)sequence).Select(_ => customerProbe.ExpectMsg<BatchCompleted>()).Append(deviceProbe.ExpectMsg<BatchCompleted>()).ToList();

            Assert.Empty(batches.SelectMany(b => b.Triggers));
            // A later row of the same session (shopper, session id, start: session_outcomes' key) replaces an earlier one
            // (ReplacingMergeTree): the last one counts, and there is one row for the visit either way.
            var outcome = Assert.Single(batches.SelectMany(b => b.Outcomes).GroupBy(o => (o.ShopperId, o.SessionId, o.StartedAt)).Select(g => g.Last()));
            Assert.Equal(("cust-1", "s-1", Outcomes.Ordered, 24m), (outcome.ShopperId, outcome.SessionId, outcome.Outcome, outcome.OrderValue));
            // Order first, the customer's row was stored with the order's start; the late hand-over keeps that start so it
            // replaces the row. Hand-over first, the session starts with the device's cart.
            Assert.Equal(handOverFirst ? T0 : order.EventTime, outcome.StartedAt);
            return ContractJson.Serialize(outcome with { StartedAt = default });
        }

        // The outcome row is the same either way (but for its start, above): the cart the device started, ended by the
        // customer's order.
        Assert.Equal(Run(handOverFirst: true), Run(handOverFirst: false));
    }

    [Fact]
    public void A_hand_over_delivered_twice_is_adopted_once_and_the_customers_consent_reaches_the_devices_cart()
    {
        var (device, deviceProbe) = Partition(0);
        var (customer, customerProbe) = Partition(1);
        var offsets = new Offsets();
        device.Tell(new ProcessBatch(0, 1, offsets.Records(0, DeviceCart("dev-2", "s-2", consent: false).Append(Link("dev-2", "cust-2", T0.AddMinutes(3))))), deviceProbe.Ref);
        var handOver = AsInput(Assert.Single(deviceProbe.ExpectMsg<BatchCompleted>().Forwards!));

        customer.Tell(new ProcessBatch(1, 1, offsets.Records(1, [Consent("cust-2", "cust-2-consent", T0.AddDays(-30)), handOver])), customerProbe.Ref);
        customer.Tell(new ProcessBatch(1, 2, offsets.Records(1, [handOver])), customerProbe.Ref); // at-least-once: the producer delivered it again
        customer.Tell(new Drain(1, 3), customerProbe.Ref);
        var batches = Enumerable.Range(0, 3).Select(_ => customerProbe.ExpectMsg<BatchCompleted>()).ToList();

        var reminders = batches.SelectMany(b => b.Triggers).ToList();
        Assert.Equal([1, 2], reminders.Select(t => t.Step));
        Assert.All(reminders, t => Assert.Equal(("cust-2", "s-2", "cust-2-consent", 24m), (t.ShopperId, t.SessionId, t.ConsentEventId, t.CartValue)));
        Assert.Single(batches.SelectMany(b => b.Audits), a => a.Reason == "duplicate_hand_over");
    }

    [Fact]
    public void After_a_checkpoint_the_link_still_sends_the_devices_events_to_the_customer()
    {
        var group = $"identity-{Interlocked.Increment(ref _groups)}";
        var offsets = new Offsets();
        var first = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        first.Tell(new ProcessBatch(0, 1, offsets.Records(0, DeviceCart("dev-3", "s-3").Append(Link("dev-3", "cust-3", T0.AddMinutes(3))))));
        ExpectMsg<BatchCompleted>();
        first.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        var second = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(0));
        Assert.Equal(0, ExpectMsg<PartitionRestored>().Sessions); // the device's session went to the customer
        var later = new CartLineAdded
        {
            EventId = "dev-3-later", ShopperId = "dev-3", SessionId = "s-3", EventTime = T0.AddMinutes(4),
            Line = new CartLine { Sku = "plate", Name = "plate", UnitPrice = 8m, Quantity = 1 },
        };
        second.Tell(new ProcessBatch(0, 3, offsets.Records(0, [later])));
        var batch = ExpectMsg<BatchCompleted>();
        var forwarded = Assert.IsType<IdentityForwarded>(Assert.Single(batch.Forwards!));
        Assert.Equal(("cust-3", "dev-3-later"), (forwarded.ShopperId, forwarded.Event.EventId));
        Assert.DoesNotContain(batch.Audits, a => a.ShopperId == "dev-3");
        Assert.Equal(0, batch.ActiveSessions);
    }

    [Fact]
    public void A_link_published_under_the_customers_key_is_passed_to_the_anonymous_ids_key()
    {
        var (customer, probe) = Partition(1);
        var link = Link("dev-4", "cust-4", T0) with { ShopperId = "cust-4" };
        customer.Tell(new ProcessBatch(1, 1, new Offsets().Records(1, [AsInput(link)])), probe.Ref);
        var passed = Assert.IsType<IdentityLinked>(AsInput(Assert.Single(probe.ExpectMsg<BatchCompleted>().Forwards!)));
        Assert.Equal(link with { ShopperId = "dev-4" }, passed);
    }

    private (IActorRef Actor, TestProbe Probe) Partition(int partition)
    {
        var probe = CreateTestProbe();
        var actor = Sys.ActorOf(PartitionActor.Props($"identity-{Interlocked.Increment(ref _groups)}", partition, _engine, new ProbeSink(probe.Ref)));
        return (actor, probe);
    }

    /// <summary>What the customer's partition reads back from the input topic: the forwarded record, serialized and
    /// validated like any input.</summary>
    private static ShopperEvent AsInput(ShopperEvent forward)
    {
        var parsed = EventParser.Parse(ContractJson.SerializeEvent(forward));
        Assert.True(parsed.IsValid, parsed.Detail);
        Assert.True(EventParser.BelongsOn(parsed.Event!, Topics.CartEvents));
        return parsed.Event!;
    }

    private static IEnumerable<ShopperEvent> DeviceCart(string device, string session, bool consent = true)
    {
        if (consent) yield return Consent(device, $"{device}-consent", T0);
        yield return new SessionStarted { EventId = $"{device}-start", ShopperId = device, SessionId = session, EventTime = T0, TimeZone = "UTC" };
        yield return new CartLineAdded
        {
            EventId = $"{device}-add", ShopperId = device, SessionId = session, EventTime = T0.AddMinutes(1),
            Line = new CartLine { Sku = "mug", Name = "mug", UnitPrice = 24m, Quantity = 1 },
        };
    }

    private static ConsentGranted Consent(string shopper, string id, DateTimeOffset at) => new()
    {
        EventId = id, ShopperId = shopper, EventTime = at, Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "v3",
    };

    private static IdentityLinked Link(string device, string customer, DateTimeOffset at) => new()
    {
        EventId = $"{device}-link", ShopperId = device, AnonymousId = device, CustomerId = customer, EventTime = at, Source = "signup",
    };

    /// <summary>Offsets per (partition, topic), as the input topics would give them.</summary>
    private sealed class Offsets
    {
        private readonly Dictionary<(int, string), long> _next = new();

        public List<InputRecord> Records(int partition, IEnumerable<ShopperEvent> events) => events.Select(e =>
        {
            var topic = e switch { ConsentEvent => Topics.ConsentEvents, OrderPlaced or PaymentAuthorized => Topics.OrderEvents, _ => Topics.CartEvents };
            var offset = _next.GetValueOrDefault((partition, topic));
            _next[(partition, topic)] = offset + 1;
            return new InputRecord(topic, partition, offset, e, null);
        }).ToList();
    }
}
