using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Streams;
using Akka.TestKit.Xunit2;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Time;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Kafka.Native;
using CartRecovery.Storage;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using CartRecovery.Streaming.Pipeline;
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

    public WorkerPipelineSpecs()
    {
        LibrdkafkaLibrary.EnsureLoaded();
        _broker = MockKafkaCluster.Start();
        foreach (var topic in new[] { Topics.RecoveryTriggers, Topics.DeadLetter, Topics.CartEvents }) _broker.CreateTopic(topic, 1);
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, EnableIdempotence = true }).Build();
    }

    private WorkerPipeline Start(IActorRef partitions, TimeSpan flushInterval, int maxUndecided = 64, int maxUnwritten = 256, int maxRows = 50_000)
    {
        var settings = new WorkerSettings { BootstrapServers = _broker.BootstrapServers, Checkpoints = CheckpointStoreSettings.Sqlite("/tmp/unused.db"), MaxUndecidedBatches = maxUndecided, MaxUnwrittenBatches = maxUnwritten };
        var output = new OutputSettings { FlushInterval = flushInterval, MaxBatchRows = maxRows };
        var pipeline = new WorkerPipeline(settings, output, new OutputWriter(_store, _producer, output, _metrics, Domain.Compliance.ComplianceKeys.Development), _metrics, NullLogger<WorkerPipeline>.Instance);
        pipeline.Start(partitions, Sys.Materializer());
        return pipeline;
    }

    [Fact]
    public void A_checkpoint_is_answered_at_once_and_only_after_every_batch_handed_before_it_is_written()
    {
        // An hour-long flush interval: only the checkpoint's request can make the writer write now.
        var pipeline = Start(TestActor, TimeSpan.FromHours(1));
        pipeline.HandBatch(new ProcessBatch(0, 1, []), default);
        pipeline.HandBatch(new ProcessBatch(1, 1, []), default);
        pipeline.HandCheckpoint(new Checkpoint(0, 2), default);

        // The actors answer out of order; the pipeline keeps the order they were handed in.
        var first = ExpectMsg<ProcessBatch>();
        var second = ExpectMsg<ProcessBatch>();
        var checkpoint = ExpectMsg<Checkpoint>();
        var durability = CreateTestProbe();
        pipeline.WhenDurable(checkpoint.Partition, checkpoint.Sequence, durability.Ref);
        pipeline.Complete(Batch(second.Partition, second.Sequence, "shopper-b"));
        pipeline.Complete(Batch(first.Partition, first.Sequence, "shopper-a"));

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
    public async Task Back_pressure_from_a_store_that_does_not_keep_up_reaches_the_caller_and_nothing_is_lost()
    {
        var answering = Sys.ActorOf(Props.Create(() => new AnsweringPartitions()));
        var pipeline = Start(answering, TimeSpan.FromMilliseconds(10), maxUndecided: 2, maxUnwritten: 2, maxRows: 1);
        answering.Tell(pipeline);
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

    [Fact]
    public async Task A_write_that_fails_fails_the_pipeline_and_the_caller_with_its_cause()
    {
        var answering = Sys.ActorOf(Props.Create(() => new AnsweringPartitions()));
        var pipeline = Start(answering, TimeSpan.FromMilliseconds(10));
        answering.Tell(pipeline);
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
    private static BatchCompleted Batch(int partition, long sequence, string shopperId) =>
        new(partition, sequence, [], [], [], [], Watermark.Start, 1, 0, 1,
            Profiles: [new ShopperProfileRow { ShopperId = shopperId, Segment = "new", ChurnRisk = 0, UpdatedAt = T0 }]);

    /// <summary>Partition actors that decide every batch at once (shopper-N for sequence N).</summary>
    private sealed class AnsweringPartitions : ReceiveActor
    {
        public AnsweringPartitions()
        {
            WorkerPipeline? pipeline = null;
            Receive<WorkerPipeline>(p => pipeline = p);
            Receive<ProcessBatch>(b => pipeline!.Complete(Batch(b.Partition, b.Sequence, $"shopper-{b.Sequence}")));
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
