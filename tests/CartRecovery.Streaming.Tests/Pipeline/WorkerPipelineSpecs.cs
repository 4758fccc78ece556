using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Streams;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.Time;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Kafka.Native;
using CartRecovery.Storage;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using CartRecovery.Streaming.Pipeline;
using CartRecovery.Streaming.Tests.Actors;
using CartRecovery.Streaming.Tests.Checkpointing;
using CartRecovery.Streaming.Tests.Support;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Pipeline;

/// <summary>
/// The worker's pipeline (an Akka.Streams graph from the consume loop to the analytics insert) on a real Kafka
/// producer (librdkafka's mock cluster) and a recording analytics store that the test can hold: a checkpoint is
/// answered only after every batch handed before it is written, back-pressure reaches the caller, and a failure
/// stops the caller with its cause instead of a stall. The test plays the partition actors.
/// </summary>
public sealed class WorkerPipelineSpecs : TestKit, IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private readonly MockKafkaCluster _broker;
    private readonly IProducer<string, byte[]> _producer;
    private readonly RecordingStore _store = new();
    private readonly WorkerMetrics _metrics = new();
    private readonly CheckpointStoreSettings _checkpoints;

    public WorkerPipelineSpecs() : this(CheckpointStoreSettings.Sqlite(Path.Combine(Path.GetTempPath(), $"cartrecovery-pipeline-{Guid.NewGuid():N}.db"))) { }

    private WorkerPipelineSpecs(CheckpointStoreSettings checkpoints) : base(Checkpointing.TestConfig.With(checkpoints))
    {
        _checkpoints = checkpoints;
        LibrdkafkaLibrary.EnsureLoaded();
        _broker = MockKafkaCluster.Start();
        foreach (var topic in new[] { Topics.RecoveryTriggers, Topics.DeadLetter, Topics.CartEvents }) _broker.CreateTopic(topic, 1);
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, EnableIdempotence = true }).Build();
    }

    private WorkerPipeline Start(IActorRef partitions, TimeSpan flushInterval, int maxUndecided = 64, int maxUnwritten = 256, int maxRows = 50_000)
    {
        var pipeline = Create(flushInterval, maxUndecided, maxUnwritten, maxRows);
        pipeline.Start(partitions, Sys.Materializer());
        return pipeline;
    }

    private WorkerPipeline Create(TimeSpan flushInterval, int maxUndecided = 64, int maxUnwritten = 256, int maxRows = 50_000)
    {
        var settings = new WorkerSettings { BootstrapServers = _broker.BootstrapServers, Checkpoints = _checkpoints, MaxUndecidedBatches = maxUndecided, MaxUnwrittenBatches = maxUnwritten };
        var output = new OutputSettings { FlushInterval = flushInterval, MaxBatchRows = maxRows };
        return new WorkerPipeline(settings, output, new OutputWriter(_store, _producer, output, _metrics, Domain.Compliance.ComplianceKeys.Development), _metrics, NullLogger<WorkerPipeline>.Instance);
    }

    [Fact]
    public void A_checkpoint_is_answered_at_once_and_only_after_every_batch_handed_before_it_is_written()
    {
        // An hour-long flush interval: only the checkpoint's request can make the writer write now.
        var pipeline = Start(TestActor, TimeSpan.FromHours(1));
        pipeline.HandBatch(new ProcessBatch(0, 1, []), default);
        pipeline.HandBatch(new ProcessBatch(1, 1, []), default);
        pipeline.HandCheckpoint(new Checkpoint(0, 2), default);

        // The actors answer out of order (each to the ask that sent its command); the pipeline keeps the order they were
        // handed in.
        var first = ExpectMsg<ProcessBatch>();
        var firstAsk = LastSender;
        var second = ExpectMsg<ProcessBatch>();
        var secondAsk = LastSender;
        var checkpoint = ExpectMsg<Checkpoint>();
        var checkpointAsk = LastSender;
        var durability = CreateTestProbe();
        checkpointAsk.Tell(new DurabilityRequest(checkpoint.Partition, checkpoint.Sequence, durability.Ref));
        secondAsk.Tell(Batch(second.Partition, second.Sequence, "shopper-b"));
        firstAsk.Tell(Batch(first.Partition, first.Sequence, "shopper-a"));

        durability.ExpectMsg<OutputsDurable>(d => Assert.Equal(2, d.Sequence), TimeSpan.FromSeconds(30));
        // Both batches handed before the checkpoint were written before it was answered, in the order handed.
        Assert.Equal(["shopper-a", "shopper-b"], _store.ShopperIds(Tables.ShopperProfiles));
        // The actor saves the checkpoint: its offsets become committable, and nothing is in flight any more.
        var offsets = new Dictionary<string, long> { [Topics.CartEvents] = 1 };
        pipeline.Checkpointed(new CheckpointSaved(0, offsets, Drained: false), requests: 1, bytes: 10, TimeSpan.Zero);
        pipeline.WaitSettled(Within(30));
        Assert.Equal(0, pipeline.Outstanding);
        Assert.True(pipeline.TryTakeCommittable(out var committable));
        Assert.Equal(offsets, committable.NextOffsets);
    }

    [Fact]
    public void Answers_leave_in_the_order_handed_whatever_order_the_partitions_answer_in()
    {
        var pipeline = Start(TestActor, TimeSpan.FromMilliseconds(10));
        // Two partitions' batches, interleaved as the consume loop hands them out.
        (int Partition, long Sequence)[] handed = [(0, 1), (1, 1), (0, 2), (1, 2)];
        foreach (var (partition, sequence) in handed) pipeline.HandBatch(new ProcessBatch(partition, sequence, []), default);
        var asked = handed.Select(_ => (Command: ExpectMsg<ProcessBatch>(), Ask: LastSender)).ToList();
        // Every command reached its partition before any was answered: the asks are in flight together.
        Assert.Equal(handed, asked.Select(a => (a.Command.Partition, a.Command.Sequence)));
        Assert.Equal(4, pipeline.AsksInFlight);
        Assert.Equal(4, pipeline.Undecided);

        // The partitions answer in the reverse order, each batch with a later event time than the one answered before.
        var answered = 0;
        foreach (var (command, ask) in Enumerable.Reverse(asked))
            ask.Tell(Batch(command.Partition, command.Sequence, $"shopper-{command.Partition}-{command.Sequence}",
                Watermark.Start.Observe(T0.AddMinutes(++answered), TimeSpan.Zero)));

        pipeline.WaitSettled(Within(30));
        Assert.Equal(["shopper-0-1", "shopper-1-1", "shopper-0-2", "shopper-1-2"], _store.ShopperIds(Tables.ShopperProfiles));
        Assert.Equal(0, pipeline.Undecided);
        Assert.Equal(0, pipeline.AsksInFlight);
        // Each partition's frontier is the newest its answers vouched for (partition 0 answered last: minute 4).
        Assert.Equal(T0.AddMinutes(3), pipeline.Frontier(1));
        Assert.Equal(T0.AddMinutes(4), pipeline.Frontier(0));
    }

    [Fact]
    public async Task Back_pressure_from_a_store_that_does_not_keep_up_reaches_the_caller_and_nothing_is_lost()
    {
        var answering = Sys.ActorOf(Props.Create(() => new AnsweringPartitions()));
        var pipeline = Start(answering, TimeSpan.FromMilliseconds(10), maxUndecided: 2, maxUnwritten: 2, maxRows: 1);
        _store.Hold();

        const int batches = 500;
        var handed = 0;
        var handing = Task.Run(() =>
        {
            for (var sequence = 1; sequence <= batches; sequence++)
            {
                pipeline.HandBatch(new ProcessBatch(0, sequence, []), default);
                Interlocked.Increment(ref handed);
            }
        });
        // The store holds its first insert: the graph's bounded stages fill and the caller is held, far short of the end.
        await Task.WhenAny(handing, Task.Delay(TimeSpan.FromSeconds(2)));
        Assert.False(handing.IsCompleted, $"all {batches} batches were handed while the store accepted nothing");
        var heldAt = Volatile.Read(ref handed);
        Assert.InRange(heldAt, 1, 100);

        _store.Release();
        await handing.WaitAsync(TimeSpan.FromMinutes(1));
        pipeline.WaitSettled(Within(60));
        // Every batch written once, in order.
        Assert.Equal(Enumerable.Range(1, batches).Select(i => $"shopper-{i}"), _store.ShopperIds(Tables.ShopperProfiles));
    }

    [Fact]
    public void A_failed_partition_actor_stops_the_caller_with_the_cause_instead_of_a_stall()
    {
        var pipeline = Start(TestActor, TimeSpan.FromMilliseconds(10));
        pipeline.HandBatch(new ProcessBatch(0, 1, []), default);
        ExpectMsg<ProcessBatch>();
        // The batch will never be decided: the partition actor failed.
        var cause = new InvalidOperationException("partition actor bug");
        pipeline.PartitionFailed(cause);

        var waited = Assert.Throws<WorkerFailedException>(() => pipeline.WaitSettled(Within(30)));
        Assert.Same(cause, waited.InnerException);
        var handed = Assert.Throws<WorkerFailedException>(() => pipeline.HandBatch(new ProcessBatch(0, 2, []), Within(30)));
        Assert.Same(cause, handed.InnerException);
    }

    /// <summary>The real partition actors, behind their supervisor: each answers the ask that sent its command (the
    /// supervisor forwards it), a batch's and then a checkpoint's, and the checkpoint is saved after the batch is written.</summary>
    [Fact]
    public void The_partition_actors_answer_the_asks_through_their_supervisor()
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var pipeline = Create(TimeSpan.FromHours(1));
        pipeline.Start(Sys.ActorOf(PartitionSupervisor.Props("pipeline-" + Guid.NewGuid().ToString("N"), engine, pipeline)), Sys.Materializer());
        pipeline.HandBatch(new ProcessBatch(2, 1, PartitionActorSpecs.Records([
            new SessionStarted { EventId = "b-1", ShopperId = "b", SessionId = "b-s", EventTime = T0 }])), default);
        pipeline.HandCheckpoint(new Checkpoint(2, 2), default);

        // An hour-long flush interval: only the checkpoint's durability request makes the writer write, then it saves.
        pipeline.WaitSettled(Within(60));
        Assert.True(pipeline.TryTakeCommittable(out var saved));
        Assert.Equal((2, 1L), (saved.Partition, saved.NextOffsets["cart-events"]));
        Assert.Equal((0L, 0L, 0L), (pipeline.Undecided, pipeline.AsksInFlight, pipeline.Outstanding));
    }

    /// <summary>A real partition actor fails (its checkpoint row is damaged, so its restore fails) while the pipeline asks it
    /// for a batch it will never answer: the graph stops with the partition's cause, the ask ends, and the caller stops.</summary>
    [Fact]
    public async Task A_partition_actor_that_fails_stops_the_graph_with_its_cause_and_ends_every_ask()
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var group = "pipeline-" + Guid.NewGuid().ToString("N");
        var probe = CreateTestProbe();
        var former = Sys.ActorOf(PartitionActor.Props(group, 0, engine, new ProbeSink(probe.Ref)));
        former.Tell(new ProcessBatch(0, 1, PartitionActorSpecs.Records([
            new SessionStarted { EventId = "a-1", ShopperId = "a", SessionId = "a-s", EventTime = T0 }])), probe.Ref);
        probe.ExpectMsg<BatchCompleted>();
        former.Tell(new Checkpoint(0, 2), probe.Ref);
        probe.ExpectMsg<CheckpointSaved>();
        Watch(former);
        Sys.Stop(former);
        ExpectTerminated(former);
        Assert.True(StoreRows.Rewrite(_checkpoints, $"cartrecovery/{group}/partition-0", bytes => bytes[..(bytes.Length / 2)]) > 0);

        var pipeline = Create(TimeSpan.FromMilliseconds(10));
        pipeline.Start(Sys.ActorOf(PartitionSupervisor.Props(group, engine, pipeline)), Sys.Materializer());
        pipeline.HandBatch(new ProcessBatch(0, 3, []), default);

        var stopped = await Assert.ThrowsAsync<WorkerFailedException>(() => pipeline.Completion.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.IsType<CheckpointFormatException>(stopped.InnerException);
        Assert.Same(pipeline.Failure, stopped);
        // The ask ended with the failure (it has no timeout: left alone it would wait forever); the batch was never decided.
        AwaitCondition(() => pipeline.AsksInFlight == 0, TimeSpan.FromSeconds(30));
        Assert.Equal(1, pipeline.Undecided);
        Assert.Same(stopped, Assert.Throws<WorkerFailedException>(() => pipeline.HandBatch(new ProcessBatch(0, 4, []), Within(30))));
    }

    [Fact]
    public async Task A_write_that_fails_fails_the_pipeline_and_the_caller_with_its_cause()
    {
        var answering = Sys.ActorOf(Props.Create(() => new AnsweringPartitions()));
        var pipeline = Start(answering, TimeSpan.FromMilliseconds(10));
        _store.FailWith(new ClickHouseQueryException("store down"));

        pipeline.HandBatch(new ProcessBatch(0, 1, []), default);
        await Assert.ThrowsAnyAsync<Exception>(() => pipeline.Completion.WaitAsync(TimeSpan.FromSeconds(30)));
        var waited = Assert.Throws<WorkerFailedException>(() => pipeline.WaitSettled(Within(30)));
        Assert.IsType<ClickHouseQueryException>(waited.InnerException);
        Assert.Equal(1, pipeline.Outstanding);
    }

    /// <summary>A token that cancels after <paramref name="seconds"/>: a test waits boundedly, never forever.</summary>
    private static CancellationToken Within(int seconds) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>A decided batch with one profile row of <paramref name="shopperId"/>.</summary>
    private static BatchCompleted Batch(int partition, long sequence, string shopperId, Watermark? watermark = null) =>
        new(partition, sequence, [], [], [], [], watermark ?? Watermark.Start, 1, 0, 1,
            Profiles: [new ShopperProfileRow { ShopperId = shopperId, Segment = "new", ChurnRisk = 0, UpdatedAt = T0 }]);

    /// <summary>Partition actors that decide every batch at once (shopper-N for sequence N), answering the ask.</summary>
    private sealed class AnsweringPartitions : ReceiveActor
    {
        public AnsweringPartitions()
        {
            Receive<ProcessBatch>(b => Sender.Tell(Batch(b.Partition, b.Sequence, $"shopper-{b.Sequence}")));
        }
    }

    /// <summary>Records inserted rows; can hold inserts (a store that does not keep up) or fail them.</summary>
    private sealed class RecordingStore : IAnalyticsStore
    {
        private readonly ConcurrentQueue<(string Table, string Row)> _rows = new();
        private volatile TaskCompletionSource _gate = Open();
        private volatile Exception? _failure;

        private static TaskCompletionSource Open()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }

        public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Release() => _gate.TrySetResult();
        public void FailWith(Exception failure) => _failure = failure;

        public List<string> ShopperIds(string table) =>
            [.. _rows.Where(r => r.Table == table).Select(r => System.Text.Json.JsonDocument.Parse(r.Row).RootElement.GetProperty("shopper_id").GetString()!)];

        public async Task InsertJsonEachRowAsync(string table, ReadOnlyMemory<byte> jsonEachRow, CancellationToken ct)
        {
            var rows = System.Text.Encoding.UTF8.GetString(jsonEachRow.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            await _gate.Task;
            if (_failure is { } failure) throw failure;
            foreach (var row in rows) _rows.Enqueue((table, row));
        }

        public Task EnsureSchemaAsync(CancellationToken ct) => Task.CompletedTask;
        public Task<string> QueryAsync(string sql, string format, CancellationToken ct) => throw new NotSupportedException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    public new void Dispose()
    {
        _producer.Dispose();
        _broker.Dispose();
        _metrics.Dispose();
        base.Dispose();
    }
}
