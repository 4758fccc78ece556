using System.Collections.Concurrent;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using CartRecovery.Storage;
using CartRecovery.Streaming.Actors;
using CartRecovery.Streaming.Output;
using Microsoft.Extensions.Logging;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Pipeline;

/// <summary>
/// The worker's runtime as one Akka.Streams graph, with back-pressure from the analytics insert back to the Kafka
/// poll loop:
/// <code>
/// Source.Queue (the consume loop offers commands; a full queue blocks the poll loop)
///   → deliver to the partition actor, at most MaxUndecidedBatches awaiting their decision (SelectAsync, in order)
///   → publish each decided batch's Kafka records (async deliveries), serialising its rows once
///   → buffer at most MaxUnwrittenBatches decided batches
///   → group about a second of rows, at most OutputSettings.MaxBatchRows (GroupedWeightedWithin), a checkpoint's
///     durability request ending its group
///   → insert into the analytics store and await every Kafka acknowledgement (SelectAsync, one at a time)
/// </code>
/// A checkpoint travels the same way: its durability request leaves the decide stage after every batch handed out
/// before it, ends the group it joins, and is answered once that group and every earlier one is written. The partition actors
/// report here (<see cref="IBatchSink"/>): a decided batch or a durability request completes the element awaiting it.
/// The consume loop stays on its own thread: librdkafka runs rebalance callbacks inside the poll, and a revoked
/// partition must be checkpointed before the callback returns, which a stream stage cannot wait for without blocking.
/// </summary>
public sealed class WorkerPipeline : IBatchSink
{
    /// <summary>What a command's element becomes once the partition actor answered it.</summary>
    private enum Answer
    {
        /// <summary>A <see cref="BatchCompleted"/> of the same partition and sequence.</summary>
        Batch,
        /// <summary>A durability request of the same partition and sequence (<see cref="IBatchSink.WhenDurable"/>).</summary>
        Durability,
        /// <summary>Nothing: delivered in order with the others, and done.</summary>
        None,
    }

    private sealed record Handed(object Command, int Partition, long Sequence, Answer Answer);

    /// <summary>A checkpoint's request to be told when every output before it is written.</summary>
    private sealed record DurabilityRequest(long Sequence, IActorRef ReplyTo);

    /// <summary>An element with nothing left to do after delivery (filtered out).</summary>
    private sealed record Delivered
    {
        public static readonly Delivered Instance = new();
    }

    private readonly WorkerSettings _settings;
    private readonly OutputSettings _output;
    private readonly OutputWriter _writer;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(int Partition, long Sequence), TaskCompletionSource<object>> _awaited = new();
    private readonly ConcurrentQueue<CheckpointSaved> _committable = new();
    // The newest event time each partition actor's frontier accepted (its watermark's eager side), as batches complete.
    private readonly ConcurrentDictionary<int, DateTimeOffset> _frontiers = new();
    private readonly object _gate = new();
    private TaskCompletionSource _changed = NewSignal();
    private IActorRef _partitions = ActorRefs.Nobody;
    private ISourceQueueWithComplete<Handed>? _queue;
    private Task _pendingOffer = Task.CompletedTask;
    private Task _completion = Task.CompletedTask;
    private long _undelivered;
    private long _undecided;
    private long _outstanding;
    private long _pendingCheckpoints;
    private volatile Exception? _failure;
    // Cancelled when the worker fails: a write waiting for Kafka acknowledgements that will never come gives up.
    private readonly CancellationTokenSource _failed = new();

    public WorkerPipeline(WorkerSettings settings, OutputSettings output, OutputWriter writer, WorkerMetrics metrics, ILogger<WorkerPipeline> logger)
    {
        _settings = settings;
        _output = output;
        _writer = writer;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Batches handed out that their partition actors have not decided yet.</summary>
    public long Undecided => Interlocked.Read(ref _undecided);

    /// <summary>Batches handed out whose outputs are not yet written.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Checkpoints requested and not yet saved.</summary>
    public long PendingCheckpoints => Interlocked.Read(ref _pendingCheckpoints);

    /// <summary>Set when a checkpoint could not be saved, a partition actor failed or an output could not be written:
    /// the worker stops instead of committing.</summary>
    public Exception? Failure => _failure;

    /// <summary>Completes when the graph has written everything handed to it after <see cref="Close"/>; faults with the
    /// cause when an output could not be written.</summary>
    public Task Completion => _completion;

    /// <summary>The parts replaced by the erasures written so far are removed from disk (<see cref="OutputWriter.ErasuresPurgedAsync"/>).</summary>
    public Task<ErasurePurge> ErasuresPurgedAsync() => _writer.ErasuresPurgedAsync();

    /// <summary>Materializes the graph; commands go to <paramref name="partitions"/>.</summary>
    public void Start(IActorRef partitions, IMaterializer materializer)
    {
        _partitions = partitions;
        var published = Source.Queue<Handed>(8, OverflowStrategy.Backpressure)
            .SelectAsync(_settings.MaxUndecidedBatches, Deliver)
            .Where(item => item is not Delivered)
            .Async()
            // Producing is asynchronous, but a full producer queue makes Produce wait for deliveries: not on the
            // dispatcher the actors and the other stages run on.
            .Via(Flow.Create<object>().Select(Publish).WithAttributes(ActorAttributes.CreateDispatcher("akka.stream.default-blocking-io-dispatcher")))
            .Buffer(_settings.MaxUnwrittenBatches, OverflowStrategy.Backpressure);
        // A durability request ends its group at once (a substream ends after it, which flushes its open group): a
        // checkpoint waits for the write of what came before it, never for the flush interval.
        var groups = (Source<IEnumerable<object>, ISourceQueueWithComplete<Handed>>)published
            .SplitAfter(item => item is DurabilityRequest)
            .GroupedWeightedWithin(_output.MaxBatchRows, int.MaxValue, _output.FlushInterval, Weight)
            .ConcatSubstream();
        var (queue, done) = groups
            .SelectAsync(1, WriteAsync)
            .ToMaterialized(Sink.Ignore<Done>(), Keep.Both)
            .Run(materializer);
        _queue = queue;
        _completion = done.ContinueWith(written =>
        {
            if (written.Exception is { } failed) Fail(failed.GetBaseException());
            return written;
        }, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Hands a batch command (answered by a <see cref="BatchCompleted"/>) to its partition actor; blocks the
    /// calling consume loop while the graph back-pressures.</summary>
    public void HandBatch(IPartitionCommand command, CancellationToken ct)
    {
        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _undecided);
        Hand(new Handed(command, command.Partition, command.Sequence, Answer.Batch), ct);
    }

    /// <summary>Asks a partition actor for a checkpoint after everything handed to it before.</summary>
    public void HandCheckpoint(Checkpoint command, CancellationToken ct)
    {
        Interlocked.Increment(ref _pendingCheckpoints);
        Hand(new Handed(command, command.Partition, command.Sequence, Answer.Durability), ct);
    }

    /// <summary>Delivers a message that needs no answer, in order with the commands handed before it.</summary>
    public void HandMessage(object message, int partition, CancellationToken ct) => Hand(new Handed(message, partition, 0, Answer.None), ct);

    private void Hand(Handed handed, CancellationToken ct)
    {
        var queue = _queue ?? throw new InvalidOperationException("the pipeline is not started");
        ThrowIfFailed();
        Interlocked.Increment(ref _undelivered);
        // One offer at a time (the queue refuses a second while one waits): a stop that abandoned the wait for the
        // previous offer waits for it here, within the grace period it is given. (Its outcome went to its own caller.)
        try { _pendingOffer.Wait(ct); }
        catch (AggregateException) { }
        var offered = queue.OfferAsync(handed);
        _pendingOffer = offered;
        IQueueOfferResult result;
        try
        {
            offered.Wait(ct);
            result = offered.Result;
        }
        catch (AggregateException e)
        {
            ThrowIfFailed();
            throw new WorkerFailedException("the pipeline refused a command; stopping without committing", e.GetBaseException());
        }
        if (result is QueueOfferResult.Enqueued) return;
        ThrowIfFailed();
        throw new WorkerFailedException($"the pipeline refused a command ({result.GetType().Name}); stopping without committing",
            (result as QueueOfferResult.Failure)?.Cause);
    }

    /// <summary>Blocks until every batch handed out is written and every requested checkpoint saved; throws when the
    /// worker failed meanwhile.</summary>
    public void WaitSettled(CancellationToken ct) => WaitUntil(() => Outstanding == 0 && PendingCheckpoints == 0, ct);

    /// <summary>Blocks until every message handed out reached its partition actor's mailbox, so a message sent to the
    /// actors directly now comes after them.</summary>
    public void WaitDelivered(CancellationToken ct) => WaitUntil(() => Interlocked.Read(ref _undelivered) == 0, ct);

    private void WaitUntil(Func<bool> condition, CancellationToken ct)
    {
        while (true)
        {
            Task changed;
            lock (_gate) changed = _changed.Task;
            ThrowIfFailed();
            if (condition()) return;
            changed.Wait(ct);
        }
    }

    /// <summary>How long the writer has been at its current write (zero when idle).</summary>
    public TimeSpan WriterBusy => _writer.Busy;

    /// <summary>Has each partition actor log where it is (a stalled worker's report, see <see cref="Ingest.KafkaIngest"/>).</summary>
    public void ReportPartitionStages() => _partitions.Tell(PartitionProtocol.ReportStall.Instance);

    /// <summary>What is handed out and not yet answered (for stall reports; names no shopper).</summary>
    public string Describe()
    {
        var awaited = _awaited.Keys.OrderBy(k => k.Partition).ThenBy(k => k.Sequence).Select(k => $"{k.Partition}:{k.Sequence}").ToList();
        return $"{Interlocked.Read(ref _undelivered)} commands not delivered, {Outstanding} batches not written, {PendingCheckpoints} checkpoints not saved, " +
            $"answers awaited from partition:command {(awaited.Count == 0 ? "none" : string.Join(",", awaited.Take(20)))}; writer: {_writer.Activity}";
    }

    public void ThrowIfFailed()
    {
        if (_failure is { } failure)
            throw failure as WorkerFailedException ?? new WorkerFailedException("stopping without committing", failure);
    }

    /// <summary>Stops the worker with <paramref name="cause"/> from outside the graph (the broker gone past its patience,
    /// a shutdown past its timeout): every wait ends with it.</summary>
    public void Abort(Exception cause) => Fail(cause);

    public bool TryTakeCommittable(out CheckpointSaved checkpoint) => _committable.TryDequeue(out checkpoint!);

    /// <summary>The event time the partition's decided input vouches for (null: none yet): what live mode's idle partitions
    /// follow. Not the newest event time read, which one record with a clock years ahead would set for every partition.</summary>
    public DateTimeOffset? Frontier(int partition) => _frontiers.TryGetValue(partition, out var at) ? at : null;

    /// <summary>The partition is no longer this worker's: its frontier is not followed any more.</summary>
    public void ForgetFrontier(int partition) => _frontiers.TryRemove(partition, out _);

    /// <summary>No more commands: the graph finishes what it holds, then <see cref="Completion"/> completes.</summary>
    public void Close() => _queue?.Complete();

    // ---- the partition actors' side (IBatchSink) ----

    public void Complete(BatchCompleted batch)
    {
        var watermark = batch.Watermark;
        if (watermark != Domain.Time.Watermark.Start && !watermark.IsEndOfTime)
            _frontiers.AddOrUpdate(batch.Partition, watermark.Eager, (_, known) => watermark.Eager > known ? watermark.Eager : known);
        Interlocked.Decrement(ref _undecided);
        if (_awaited.TryRemove((batch.Partition, batch.Sequence), out var answer)) answer.TrySetResult(_output.Writable(batch));
        else Fail(new InvalidOperationException($"partition {batch.Partition} completed batch {batch.Sequence}, which the pipeline is not waiting for"));
    }

    public void WhenDurable(int partition, long sequence, IActorRef replyTo)
    {
        if (_awaited.TryRemove((partition, sequence), out var answer)) answer.TrySetResult(new DurabilityRequest(sequence, replyTo));
        else Fail(new InvalidOperationException($"partition {partition} asked for durability at {sequence}, which the pipeline is not waiting for"));
    }

    public void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration)
    {
        _metrics.Checkpointed(saved.Partition, bytes, duration);
        _committable.Enqueue(saved);
        Interlocked.Add(ref _pendingCheckpoints, -requests);
        Changed();
    }

    public void CheckpointFailed(int partition, Exception cause)
    {
        _logger.LogError(cause, "checkpoint of partition {Partition} failed", partition);
        Interlocked.Decrement(ref _pendingCheckpoints);
        Fail(new WorkerFailedException($"the checkpoint of partition {partition} could not be saved", cause));
    }

    public void PartitionFailed(Exception cause)
    {
        _logger.LogError(cause, "a partition actor failed; the worker stops without committing");
        Fail(cause);
    }

    /// <summary>The worker cannot go on: every element awaiting an answer fails (so does the graph) and the consume
    /// loop, waiting or not, stops with <paramref name="cause"/> instead of waiting for answers that will never come.</summary>
    private void Fail(Exception cause)
    {
        bool first;
        lock (_gate)
        {
            first = _failure is null;
            _failure ??= cause;
        }
        // The cause is logged once, when it happens (its message names no personal data: see OutputFailedException).
        if (first) _logger.LogError("the worker failed: {Cause}", CauseChain(cause));
        try { _failed.Cancel(); } catch (AggregateException) { }
        foreach (var key in _awaited.Keys)
            if (_awaited.TryRemove(key, out var answer)) answer.TrySetException(cause);
        _queue?.Fail(cause);
        Changed();
    }

    // ---- the stages ----

    private Task<object> Deliver(Handed handed)
    {
        Task<object> answered = Task.FromResult<object>(Delivered.Instance);
        if (handed.Answer != Answer.None)
        {
            var answer = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_awaited.TryAdd((handed.Partition, handed.Sequence), answer))
                throw new InvalidOperationException($"partition {handed.Partition}: command {handed.Sequence} handed twice");
            if (_failure is { } failure) answer.TrySetException(failure);
            answered = answer.Task;
        }
        _partitions.Tell(handed.Command);
        Interlocked.Decrement(ref _undelivered);
        Changed();
        return answered;
    }

    private object Publish(object item) => item is BatchCompleted batch ? _writer.Publish(batch) : item;

    /// <summary>A group's weight is its rows (an empty batch still counts, so a group is never unbounded).</summary>
    private static long Weight(object item) => item is OutputWriter.Published published ? Math.Max(1, published.Rows) : 1;

    private async Task<Done> WriteAsync(IEnumerable<object> group)
    {
        var batches = new List<OutputWriter.Published>();
        foreach (var item in group)
        {
            if (item is OutputWriter.Published published)
            {
                batches.Add(published);
                continue;
            }
            await WriteBatchesAsync(batches);
            var request = (DurabilityRequest)item;
            request.ReplyTo.Tell(new OutputsDurable(request.Sequence));
        }
        await WriteBatchesAsync(batches);
        return Done.Instance;
    }

    private async Task WriteBatchesAsync(List<OutputWriter.Published> batches)
    {
        if (batches.Count == 0) return;
        await _writer.FlushAsync(batches, _failed.Token);
        Interlocked.Add(ref _outstanding, -batches.Count);
        batches.Clear();
        Changed();
    }

    /// <summary>Wakes whoever waits in <see cref="WaitUntil"/> to look at the counters again.</summary>
    private void Changed()
    {
        TaskCompletionSource signalled;
        lock (_gate)
        {
            signalled = _changed;
            _changed = NewSignal();
        }
        signalled.TrySetResult();
    }

    /// <summary>"message: inner message: ..." without stack traces.</summary>
    public static string CauseChain(Exception cause)
    {
        var parts = new List<string>();
        for (Exception? e = cause; e is not null && parts.Count < 8; e = e.InnerException)
        {
            if (e is AggregateException { InnerExceptions.Count: 1 }) continue;
            if (parts.Count == 0 || !parts[^1].Contains(e.Message, StringComparison.Ordinal)) parts.Add(e.Message);
        }
        return string.Join(": ", parts);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
