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

public sealed class PartitionActorSpecs() : TestKit(Checkpointing.TestConfig.With(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-actors-{Guid.NewGuid():N}.db"))))
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0 });
    private static int _groups;

    private static string Group() => $"group-{Interlocked.Increment(ref _groups)}";


    [Fact]
    public void Abandoned_cart_gets_both_reminder_steps_and_an_outcome_when_drained()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)));
        partition.Tell(new ProcessBatch(0, 1, Records(AbandoningShopper("s1"))));
        var first = ExpectMsg<BatchCompleted>();
        Assert.Empty(first.Triggers);
        // Where a checkpoint taken now resumes each input topic.
        partition.Tell(new RestorePartition(0));
        var offsets = ExpectMsg<PartitionRestored>().NextOffsets;
        Assert.Equal(3, offsets["cart-events"]); // session_started, product_viewed, cart_line_added
        Assert.Equal(1, offsets["consent-events"]);

        partition.Tell(new Drain(0, 2));
        var drained = ExpectMsg<BatchCompleted>();
        Assert.Equal([1, 2], drained.Triggers.Select(t => t.Step).ToArray());
        Assert.All(drained.Triggers, t => Assert.Equal("email", t.Channel));
        Assert.Equal(T0.AddMinutes(1 + 30 + 60 + 5), drained.Triggers[0].EventTime);
        var outcome = Assert.Single(drained.Outcomes);
        Assert.Equal(Outcomes.Abandoned, outcome.Outcome);
        Assert.Equal(0, drained.ActiveSessions);
    }

    [Fact]
    public void Order_in_the_session_suppresses_the_reminder()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)));
        var events = AbandoningShopper("s2").Append(new OrderPlaced
        {
            EventId = "s2-order", ShopperId = "s2", SessionId = "s2-sess", EventTime = T0.AddMinutes(5), OrderId = "o-1", Total = 40m,
        }).ToList();
        partition.Tell(new ProcessBatch(0, 1, Records(events)));
        partition.Tell(new Drain(0, 2));
        var batches = new[] { ExpectMsg<BatchCompleted>(), ExpectMsg<BatchCompleted>() };
        Assert.Empty(batches.SelectMany(b => b.Triggers));
        Assert.Equal(Outcomes.Ordered, Assert.Single(batches.SelectMany(b => b.Outcomes)).Outcome);
    }

    [Fact]
    public void Outputs_do_not_depend_on_how_the_input_was_batched()
    {
        var events = Enumerable.Range(0, 12).SelectMany(i => AbandoningShopper($"b{i}", T0.AddMinutes(i * 7))).OrderBy(e => e.EventTime).ToList();

        string Run(int batchSize)
        {
            var probe = CreateTestProbe();
            var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(probe.Ref)));
            var records = Records(events);
            long sequence = 0;
            for (var i = 0; i < records.Count; i += batchSize)
                partition.Tell(new ProcessBatch(0, ++sequence, records.Skip(i).Take(batchSize).ToList()), probe.Ref);
            partition.Tell(new Drain(0, ++sequence), probe.Ref);
            var batches = Enumerable.Range(0, (int)sequence).Select(_ => probe.ExpectMsg<BatchCompleted>()).ToList();
            return string.Join("\n", batches.SelectMany(b => b.Triggers.Select(ContractJson.Serialize))
                .Concat(batches.SelectMany(b => b.Audits.Select(ContractJson.Serialize)))
                .Concat(batches.SelectMany(b => b.Outcomes.Select(ContractJson.Serialize))).Order(StringComparer.Ordinal));
        }

        var whole = Run(1000);
        Assert.Contains("\"step\":2", whole);
        Assert.Equal(whole, Run(1));
        Assert.Equal(whole, Run(5));
    }

    [Fact]
    public void Rejected_records_pass_through_as_dead_letters_with_their_offsets()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 3, _engine, new ProbeSink(TestActor)));
        var letter = new DeadLetter { DeadLetterId = "d1", Topic = "cart-events", Partition = 3, Offset = 17, Reason = RejectReasons.NotJson, ReceivedAt = T0 };
        partition.Tell(new ProcessBatch(3, 1, [new InputRecord("cart-events", 3, 17, null, letter)]));
        var batch = ExpectMsg<BatchCompleted>();
        Assert.Equal("d1", Assert.Single(batch.DeadLetters).Rejected!.DeadLetterId);
        Assert.Equal(0, batch.Events);
        partition.Tell(new RestorePartition(3));
        Assert.Equal(18, ExpectMsg<PartitionRestored>().NextOffsets["cart-events"]);
    }

    [Fact]
    public void A_finished_session_stops_its_actor()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)), "p-stop");
        partition.Tell(new ProcessBatch(0, 1, Records(AbandoningShopper("s3"))));
        ExpectMsg<BatchCompleted>();
        AwaitAssert(() => Assert.Single(Children("p-stop")));
        partition.Tell(new Drain(0, 2));
        ExpectMsg<BatchCompleted>();
        AwaitAssert(() => Assert.Empty(Children("p-stop")));
    }

    [Fact]
    public void A_checkpoint_restores_state_and_offsets_in_a_new_incarnation_which_then_decides_the_same()
    {
        var group = Group();
        var events = AbandoningShopper("r1");

        // Uninterrupted: one incarnation sees everything.
        var straight = CreateTestProbe();
        var whole = Sys.ActorOf(PartitionActor.Props(group + "-straight", 0, _engine, new ProbeSink(straight.Ref)));
        whole.Tell(new ProcessBatch(0, 1, Records(events)), straight.Ref);
        whole.Tell(new Drain(0, 2), straight.Ref);
        straight.ExpectMsg<BatchCompleted>();
        var expected = straight.ExpectMsg<BatchCompleted>().Triggers.Select(ContractJson.Serialize).ToList();

        // Interrupted: checkpoint after the input, stop, a new incarnation restores and drains.
        var first = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        first.Tell(new ProcessBatch(0, 1, Records(events)));
        ExpectMsg<BatchCompleted>();
        first.Tell(new Checkpoint(0, 2));
        var saved = ExpectMsg<CheckpointSaved>();
        Assert.Equal(3, saved.NextOffsets["cart-events"]);
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        var second = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(0));
        var restored = ExpectMsg<PartitionRestored>();
        Assert.Equal(3, restored.NextOffsets["cart-events"]);
        Assert.Equal(1, restored.NextOffsets["consent-events"]);
        Assert.Equal(1, restored.Sessions);
        second.Tell(new Drain(0, 3));
        Assert.Equal(expected, ExpectMsg<BatchCompleted>().Triggers.Select(ContractJson.Serialize).ToList());
    }

    /// <summary>A drain across workers reads the group's progress from commits: a checkpoint tells whether it was taken
    /// after the partition's end-of-input drain, and only such a checkpoint lets the commit reach the end.</summary>
    [Fact]
    public void A_checkpoint_says_whether_the_partition_was_drained()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)));
        partition.Tell(new ProcessBatch(0, 1, Records(AbandoningShopper("d1"))));
        ExpectMsg<BatchCompleted>();
        partition.Tell(new Checkpoint(0, 2));
        Assert.False(ExpectMsg<CheckpointSaved>().Drained);
        partition.Tell(new Drain(0, 3));
        Assert.NotEmpty(ExpectMsg<BatchCompleted>().Triggers);
        partition.Tell(new Checkpoint(0, 4));
        Assert.True(ExpectMsg<CheckpointSaved>().Drained);
    }

    [Fact]
    public void An_event_redelivered_after_a_restore_is_applied_once()
    {
        var group = Group();
        var events = AbandoningShopper("d1");
        var first = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        first.Tell(new ProcessBatch(0, 1, Records(events)));
        ExpectMsg<BatchCompleted>();
        first.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // The producer resends the cart line (same event_id) after the restart: the seen ids are in the checkpoint.
        var second = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(0));
        ExpectMsg<PartitionRestored>();
        second.Tell(new ProcessBatch(0, 3, [new InputRecord("cart-events", 0, 3, events[^1], null)]));
        var redelivered = ExpectMsg<BatchCompleted>();
        second.Tell(new Drain(0, 4));
        var drained = ExpectMsg<BatchCompleted>();

        var duplicate = Assert.Single(redelivered.Audits);
        Assert.Equal((AuditDecisions.DuplicateEvent, "d1-3"), (duplicate.Decision, duplicate.Evidence.Single()));
        Assert.Equal([40m, 40m], drained.Triggers.Select(t => t.CartValue));
    }

    [Fact]
    public void A_pending_payment_on_the_order_topic_holds_the_reminders_of_the_shopper_s_cart()
    {
        var events = AbandoningShopper("p1");
        events.Add(new PaymentPending { EventId = "p1-pending", ShopperId = "p1", EventTime = T0.AddMinutes(40), Amount = 40m });
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)));
        partition.Tell(new ProcessBatch(0, 1, Records(events)));
        partition.Tell(new Drain(0, 2));
        var batches = new[] { ExpectMsg<BatchCompleted>(), ExpectMsg<BatchCompleted>() };

        Assert.Empty(batches.SelectMany(b => b.Triggers));
        Assert.Equal(["payment_pending", "payment_pending"],
            batches.SelectMany(b => b.Audits).Where(a => a.Decision == AuditDecisions.Suppressed).Select(a => a.Reason));
    }

    [Fact]
    public void A_partition_without_a_checkpoint_resumes_from_the_beginning()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 5, _engine, new ProbeSink(TestActor)));
        partition.Tell(new RestorePartition(5));
        var restored = ExpectMsg<PartitionRestored>();
        Assert.Empty(restored.NextOffsets);
        Assert.Equal(0, restored.Sessions);
    }

    private IReadOnlyList<IActorRef> Children(string partitionName) =>
        Sys.ActorSelection($"/user/{partitionName}/*").Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(1))
            .ContinueWith(t => t.IsCompletedSuccessfully && t.Result.Subject is { } s ? new[] { s } : []).Result;

    private static List<ShopperEvent> AbandoningShopper(string shopper, DateTimeOffset? start = null)
    {
        var t = start ?? T0;
        return
        [
            new ConsentGranted { EventId = $"{shopper}-c", ShopperId = shopper, EventTime = t.AddDays(-1), Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "v3" },
            new SessionStarted { EventId = $"{shopper}-1", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = t, TimeZone = "UTC" },
            new ProductViewed { EventId = $"{shopper}-2", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = t.AddSeconds(20), Sku = "sku-1" },
            new CartLineAdded
            {
                EventId = $"{shopper}-3", ShopperId = shopper, SessionId = $"{shopper}-sess", EventTime = t.AddMinutes(1),
                Line = new CartLine { Sku = "sku-1", Name = "lamp", UnitPrice = 40m, Quantity = 1 },
            },
        ];
    }

    internal static List<InputRecord> Records(IEnumerable<ShopperEvent> events)
    {
        var offsets = new Dictionary<string, long>();
        return events.Select(e =>
        {
            var topic = e switch { ConsentEvent => "consent-events", OrderPlaced or PaymentAuthorized or PaymentPending => "order-events", _ => "cart-events" };
            var offset = offsets.GetValueOrDefault(topic);
            offsets[topic] = offset + 1;
            return new InputRecord(topic, 0, offset, e, null);
        }).ToList();
    }
}
