using Akka.Actor;
using Akka.Hosting;
using CartRecovery.Contracts.Events;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Hosting;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Tests.Support;
using static CartRecovery.Streaming.Actors.PartitionProtocol;
using HostingTestKit = Akka.Hosting.TestKit.TestKit;

namespace CartRecovery.Hosting.Tests;

/// <summary>The worker's persistence wiring (<see cref="WorkerHosting.WithCheckpointStore"/>, Akka.Persistence.Sql.Hosting)
/// in an actor system built by Akka.Hosting: the SQL plugins are the defaults, and a partition's checkpoint is saved
/// and restored through them.</summary>
public sealed class CheckpointStoreHostingSpecs() : HostingTestKit("checkpoint-hosting")
{
    private readonly CheckpointStoreSettings _store =
        CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-hosting-{Guid.NewGuid():N}.db"));
    private readonly RecoveryEngine _engine = new(PolicyFile.LoadDefault());

    // The first recovery creates the store's tables: on a loaded machine that takes longer than the default 3 s.
    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) =>
        builder.WithCheckpointStore(_store).AddHocon("akka.test.single-expect-default = 20s", HoconAddMode.Prepend);

    [Fact]
    public void The_sql_store_is_the_default_and_a_checkpoint_round_trips_through_it()
    {
        var config = Sys.Settings.Config;
        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.snapshot-store.sql.provider-name"));
        Assert.Equal(_store.ConnectionString, config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        // Recovery on a loaded machine: the raised limits reach the plugins, above Akka's defaults (30 s, 10 s and 20 s).
        Assert.Equal(TimeSpan.FromSeconds(180), config.GetTimeSpan("akka.persistence.journal.sql.recovery-event-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(120), config.GetTimeSpan("akka.persistence.journal.sql.circuit-breaker.call-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(120), config.GetTimeSpan("akka.persistence.snapshot-store.sql.circuit-breaker.call-timeout"));

        var group = "hosting-" + Guid.NewGuid().ToString("N");
        var first = Sys.ActorOf(PartitionActor.Props(group, 3, _engine, new ProbeSink(TestActor)));
        var started = new SessionStarted
        {
            EventId = "h-1", ShopperId = "h", SessionId = "h-sess", EventTime = new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero),
        };
        first.Tell(new ProcessBatch(3, 1, [new InputRecord("cart-events", 3, 41, started, null)]));
        var cancel = TestContext.Current.CancellationToken;
        ExpectMsg<BatchCompleted>(cancellationToken: cancel);
        first.Tell(new Checkpoint(3, 2));
        Assert.Equal(42, ExpectMsg<CheckpointSaved>(cancellationToken: cancel).NextOffsets["cart-events"]);
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, cancellationToken: cancel);

        var second = Sys.ActorOf(PartitionActor.Props(group, 3, _engine, new ProbeSink(TestActor)));
        second.Tell(new RestorePartition(3));
        var restored = ExpectMsg<PartitionRestored>(cancellationToken: cancel);
        Assert.Equal(42, restored.NextOffsets["cart-events"]);
        Assert.Equal(1, restored.Sessions);
    }
}
