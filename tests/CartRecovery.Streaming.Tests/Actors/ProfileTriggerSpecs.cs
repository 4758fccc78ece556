using Akka.Actor;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Actors;

/// <summary>The win-back is the shopper's own timer in the partition: woken by the watermark (other shoppers' traffic, or
/// an idle partition following the wall clock), not by the drain, and after a checkpoint and restore a new incarnation
/// decides it at the same event time as one that never stopped.</summary>
public sealed class ProfileTriggerSpecs() : TestKit(Checkpointing.TestConfig.With(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-profile-triggers-{Guid.NewGuid():N}.db"))))
{
    private static readonly DateTimeOffset T0 = new(2026, 9, 1, 12, 0, 0, TimeSpan.Zero);
    /// <summary>Two orders 10 days apart: at risk 10 days × (1 + ln 2) after the second, in whole seconds up.</summary>
    private static readonly DateTimeOffset AtRisk = T0.AddDays(10).AddSeconds(Math.Ceiling(TimeSpan.FromDays(10).TotalSeconds * (1 + Math.Log(2))));
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault() with { HoldoutShare = 0, WinBack = WinBackPolicy.Off with { Enabled = true } });
    private static int _groups;

    private static string Group() => $"winback-{Interlocked.Increment(ref _groups)}";

    private static List<ShopperEvent> Customer() =>
    [
        new ConsentGranted { EventId = "w-c", ShopperId = "w", EventTime = T0.AddDays(-5), Purpose = "marketing", Channel = "email", Source = "newsletter_form", WordingVersion = "m1" },
        new OrderPlaced { EventId = "w-o1", ShopperId = "w", SessionId = "w-1", EventTime = T0, OrderId = "o1", Total = 30m },
        new OrderPlaced { EventId = "w-o2", ShopperId = "w", SessionId = "w-2", EventTime = T0.AddDays(10), OrderId = "o2", Total = 50m },
    ];

    /// <summary>Other shoppers' visits, a month on: two of them (one alone could be a clock that is off: README "Event
    /// time") move the partition's watermark past the instant.</summary>
    private static List<ShopperEvent> Neighbour() =>
    [
        new SessionStarted { EventId = "n-1", ShopperId = "n", SessionId = "n-sess", EventTime = AtRisk.AddDays(3), TimeZone = "UTC" },
        new SessionStarted { EventId = "m-1", ShopperId = "m", SessionId = "m-sess", EventTime = AtRisk.AddDays(3).AddMinutes(4), TimeZone = "UTC" },
    ];

    [Fact]
    public void Other_shoppers_traffic_wakes_the_win_back_and_a_restored_incarnation_decides_the_same()
    {
        var customer = PartitionActorSpecs.Records(Customer());
        var neighbour = PartitionActorSpecs.Records(Neighbour());

        var straight = CreateTestProbe();
        var whole = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(straight.Ref)));
        whole.Tell(new ProcessBatch(0, 1, customer), straight.Ref);
        whole.Tell(new Drain(0, 2), straight.Ref);
        Assert.Empty(straight.ExpectMsg<BatchCompleted>().Triggers);
        // The drain is not weeks of silence: nothing yet.
        Assert.Empty(straight.ExpectMsg<BatchCompleted>().Triggers);

        var group = Group();
        var first = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        first.Tell(new ProcessBatch(0, 1, customer));
        ExpectMsg<BatchCompleted>();
        first.Tell(new Checkpoint(0, 2));
        ExpectMsg<CheckpointSaved>();
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        var second = Sys.ActorOf(PartitionActor.Props(group, 0, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(0));
        ExpectMsg<PartitionRestored>();
        second.Tell(new ProcessBatch(0, 3, neighbour));
        var woken = ExpectMsg<BatchCompleted>();

        var message = Assert.Single(woken.Triggers, t => t.Kind == TriggerKinds.WinBack);
        Assert.Equal(("w", AtRisk, "email"), (message.ShopperId, message.EventTime, message.Channel));
        Assert.Single(woken.Audits, a => a.Kind == TriggerKinds.WinBack && a.Decision == AuditDecisions.Triggered && a.ChainHash.Length > 0);

        // An uninterrupted incarnation given the same input decides the same message.
        var third = CreateTestProbe();
        var uninterrupted = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(third.Ref)));
        uninterrupted.Tell(new ProcessBatch(0, 1, [.. customer, .. neighbour]), third.Ref);
        var once = third.ExpectMsg<BatchCompleted>();
        Assert.Equal(ContractJson.Serialize(message), ContractJson.Serialize(Assert.Single(once.Triggers, t => t.Kind == TriggerKinds.WinBack)));
    }

    [Fact]
    public void An_idle_live_partition_following_the_wall_clock_wakes_it_once()
    {
        var partition = Sys.ActorOf(PartitionActor.Props(Group(), 0, _engine, new ProbeSink(TestActor)));
        partition.Tell(new ProcessBatch(0, 1, PartitionActorSpecs.Records(Customer())));
        ExpectMsg<BatchCompleted>();
        partition.Tell(new AdvanceIdle(0, 2, AtRisk.AddMinutes(10)));
        Assert.Single(ExpectMsg<BatchCompleted>().Triggers, t => t.Kind == TriggerKinds.WinBack);
        partition.Tell(new AdvanceIdle(0, 3, AtRisk.AddDays(60)));
        Assert.Empty(ExpectMsg<BatchCompleted>().Triggers);
    }
}
