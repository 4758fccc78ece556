using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Util;
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
/// Source.Queue of Handed (the consume loop offers commands; a full queue blocks the poll loop)
///   → ask the partition actor, at most MaxUndecidedBatches asks in flight (SelectAsync, in order): a batch command
///     is answered DecidedBatch, a checkpoint AwaitingDurability; a message needing no answer is told, and ends here
///   → publish each decided batch's Kafka records (async deliveries), serialising its rows once: PublishedBatch
///   → buffer at most MaxUnwrittenBatches decided batches
///   → group about a second of rows, at most OutputSettings.MaxBatchRows (GroupedWeightedWithin), a checkpoint's
///     durability request ending its group
///   → insert into the analytics store and await every Kafka acknowledgement (SelectAsync, one at a time), then
///     tell each durability request's checkpointer OutputsDurable
/// </code>
/// The partition actor answers the ask itself (it replies to the command's sender, which the supervisor's Forward
/// keeps): no request registry here, and the answers leave the ask stage in the order the commands were handed, so a
/// checkpoint's durability request is written after every batch handed before it and answered once that group and
/// every earlier one is written. The asks carry no timeout (a busy partition may take long, never wrongly); a failure
/// of the worker cancels every ask in flight and stops the graph with its cause.
/// The consume loop stays on its own thread: librdkafka runs rebalance callbacks inside the poll, and a revoked
/// partition must be checkpointed before the callback returns, which a stream stage cannot wait for without blocking.
/// </summary>
public sealed class WorkerPipeline : IPartitionReports
{
    /// <summary>What the consume loop hands to the graph.</summary>
    private abstract record Handed;

    /// <summary>A batch command: answered by the <see cref="BatchCompleted"/> of the same partition and sequence.</summary>
    private sealed record BatchHanded(IPartitionCommand Command) : Handed;

    /// <summary>A checkpoint: answered by its <see cref="DurabilityRequest"/>.</summary>
    private sealed record CheckpointHanded(Checkpoint Command) : Handed;

    /// <summary>A message that needs no answer, delivered in order with the commands handed before it.</summary>
    private sealed record MessageHanded(object Message) : Handed;

    /// <summary>What flows from the ask stage to the writer: a closed set.</summary>
    private abstract record PipelineElement;

    /// <summary>A partition actor's decided batch (its outputs made writable), to publish.</summary>
    private sealed record DecidedBatch(BatchCompleted Batch) : PipelineElement;

    /// <summary>A decided batch whose Kafka records are produced and whose rows are serialised, to write.</summary>
    private sealed record PublishedBatch(OutputWriter.Published Output) : PipelineElement;

    /// <summary>A checkpoint's request to be told when every output before it is written.</summary>
    private sealed record AwaitingDurability(DurabilityRequest Request) : PipelineElement;

    private readonly WorkerSettings _settings;
    private readonly OutputSettings _output;
    private readonly OutputWriter _writer;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    // Per partition, not per request (the answers need no record): what a stall report says is not answered yet.
    private readonly ConcurrentDictionary<int, PartitionAsks> _asks = new();
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
    private long _asksInFlight;
    private long _outstanding;
    private long _pendingCheckpoints;
    private volatile Exception? _failure;
    // Cancelled when the worker fails: every ask in flight ends, and a write waiting for Kafka acknowledgements that
    // will never come gives up.
    private readonly CancellationTokenSource _failed = new();

    /// <summary>A partition's asks not answered yet, and the newest command asked (for stall reports).</summary>
    private sealed class PartitionAsks
    {
        public long InFlight;
        public long NewestAsked;
    }

    /// <summary>A message handed with <see cref="HandMessage"/> leaves the graph once told.</summary>
    private static readonly Task<Option<PipelineElement>> NoAnswer = Task.FromResult(Option<PipelineElement>.None);

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

    /// <summary>Commands asked of the partition actors and not answered yet (a failure of the worker ends them all).</summary>
    public long AsksInFlight => Interlocked.Read(ref _asksInFlight);

    /// <summary>Checkpoints requested and not yet saved.</summary>
    public long PendingCheckpoints => Interlocked.Read(ref _pendingCheckpoints);

    /// <summary>Set when a checkpoint could not be saved, a partition actor failed or an output could not be written:
    /// the worker stops instead of committing.</summary>
    public Exception? Failure => _failure;

    /// <summary>Completes when the graph has written everything handed to it after <see cref="Close"/>; faults with the
    /// cause that stopped the worker (<see cref="Failure"/>: an output that could not be written, a partition actor that
    /// failed, an abort).</summary>
    public Task Completion => _completion;

    /// <summary>The parts replaced by the erasures written so far are removed from disk (<see cref="OutputWriter.ErasuresPurgedAsync"/>).</summary>
    public Task<ErasurePurge> ErasuresPurgedAsync() => _writer.ErasuresPurgedAsync();

    /// <summary>Materializes the graph; commands go to <paramref name="partitions"/>.</summary>
    public void Start(IActorRef partitions, IMaterializer materializer)
    {
        _partitions = partitions;
        var published = Source.Queue<Handed>(8, OverflowStrategy.Backpressure)
            .SelectAsync(_settings.MaxUndecidedBatches, Deliver)
            .Where(answer => answer.HasValue)
            .Select(answer => answer.Value)
            .Async()
            // Producing is asynchronous, but a full producer queue makes Produce wait for deliveries: not on the
            // dispatcher the actors and the other stages run on.
            .Via(Flow.Create<PipelineElement>().Select(Publish).WithAttributes(ActorAttributes.CreateDispatcher("akka.stream.default-blocking-io-dispatcher")))
            .Buffer(_settings.MaxUnwrittenBatches, OverflowStrategy.Backpressure);
        // A durability request ends its group at once (a substream ends after it, which flushes its open group): a
        // checkpoint waits for the write of what came before it, never for the flush interval.
        var groups = (Source<IEnumerable<PipelineElement>, ISourceQueueWithComplete<Handed>>)published
            .SplitAfter(element => element is AwaitingDurability)
            .GroupedWeightedWithin(_output.MaxBatchRows, int.MaxValue, _output.FlushInterval, Weight)
            .ConcatSubstream();
        var (queue, done) = groups
            .SelectAsync(1, WriteAsync)
            .ToMaterialized(Sink.Ignore<Done>(), Keep.Both)
            .Run(materializer);
        _queue = queue;
        _completion = done.ContinueWith(written =>
        {
            if (written.Exception is not { } failed) return Task.CompletedTask;
            Fail(failed.GetBaseException());
            // The cause that stopped the worker first, not what it did further down the graph.
            return Task.FromException(_failure ?? failed.GetBaseException());
        }, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Hands a batch command (answered by a <see cref="BatchCompleted"/>) to its partition actor; blocks the
    /// calling consume loop while the graph back-pressures.</summary>
    public void HandBatch(IPartitionCommand command, CancellationToken ct)
    {
        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _undecided);
        Hand(new BatchHanded(command), ct);
    }

    /// <summary>Asks a partition actor for a checkpoint after everything handed to it before.</summary>
    public void HandCheckpoint(Checkpoint command, CancellationToken ct)
    {
        Interlocked.Increment(ref _pendingCheckpoints);
        Hand(new CheckpointHanded(command), ct);
    }

    /// <summary>Delivers a message that needs no answer, in order with the commands handed before it.</summary>
    public void HandMessage(object message, CancellationToken ct) => Hand(new MessageHanded(message), ct);

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
        var asking = _asks.Where(p => Interlocked.Read(ref p.Value.InFlight) > 0).OrderBy(p => p.Key)
            .Select(p => $"{p.Key}:{Interlocked.Read(ref p.Value.InFlight)} up to command {Volatile.Read(ref p.Value.NewestAsked)}").ToList();
        return $"{Interlocked.Read(ref _undelivered)} commands not delivered, {Outstanding} batches not written, {PendingCheckpoints} checkpoints not saved, " +
            $"{AsksInFlight} asks not answered (partition:asks) {(asking.Count == 0 ? "none" : string.Join(", ", asking.Take(20)))}; writer: {_writer.Activity}";
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

    // ---- what the partition actors report that no ask awaits (IPartitionReports) ----

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

    /// <summary>The worker cannot go on: every ask in flight ends, the graph fails, and the consume loop, waiting or
    /// not, stops with <paramref name="cause"/> instead of waiting for answers that will never come.</summary>
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
        _queue?.Fail(cause);
        Changed();
    }

    // ---- the stages ----

    /// <summary>Tells the handed command to its partition actor now (the asks go out in the order handed), and returns
    /// its answer to come: nothing for a message.</summary>
    private Task<Option<PipelineElement>> Deliver(Handed handed)
    {
        var answer = handed switch
        {
            BatchHanded batch => DecidedAsync(batch.Command),
            CheckpointHanded checkpoint => DurabilityAsync(checkpoint.Command),
            MessageHanded message => Told(message.Message),
            _ => throw new UnreachableException($"handed {handed.GetType().Name}"),
        };
        Interlocked.Decrement(ref _undelivered);
        Changed();
        return answer;
    }

    private Task<Option<PipelineElement>> Told(object message)
    {
        _partitions.Tell(message);
        return NoAnswer;
    }

    private async Task<Option<PipelineElement>> DecidedAsync(IPartitionCommand command)
    {
        var batch = await AskAsync<BatchCompleted>(command);
        if (batch.Partition != command.Partition || batch.Sequence != command.Sequence)
            throw new InvalidOperationException($"partition {command.Partition} answered command {command.Sequence} with batch {batch.Partition}:{batch.Sequence}");
        var watermark = batch.Watermark;
        if (watermark != Domain.Time.Watermark.Start && !watermark.IsEndOfTime)
            _frontiers.AddOrUpdate(batch.Partition, watermark.Eager, (_, known) => watermark.Eager > known ? watermark.Eager : known);
        Interlocked.Decrement(ref _undecided);
        return new DecidedBatch(_output.Writable(batch));
    }

    private async Task<Option<PipelineElement>> DurabilityAsync(Checkpoint command)
    {
        var request = await AskAsync<DurabilityRequest>(command);
        if (request.Partition != command.Partition || request.Sequence != command.Sequence)
            throw new InvalidOperationException($"partition {command.Partition} answered checkpoint {command.Sequence} with {request.Partition}:{request.Sequence}");
        return new AwaitingDurability(request);
    }

    /// <summary>Asks the partition actor (the command is told before this returns) and awaits its answer, however long
    /// the partition takes: only a failure of the worker ends the wait, with the failure's cause.</summary>
    private async Task<T> AskAsync<T>(IPartitionCommand command)
    {
        var asks = _asks.GetOrAdd(command.Partition, static _ => new PartitionAsks());
        Volatile.Write(ref asks.NewestAsked, command.Sequence);
        Interlocked.Increment(ref asks.InFlight);
        Interlocked.Increment(ref _asksInFlight);
        try
        {
            return await _partitions.Ask<T>(command, _failed.Token);
        }
        catch (OperationCanceledException) when (_failure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref asks.InFlight);
            Interlocked.Decrement(ref _asksInFlight);
        }
    }

    private PipelineElement Publish(PipelineElement element) =>
        element is DecidedBatch decided ? new PublishedBatch(_writer.Publish(decided.Batch)) : element;

    /// <summary>A group's weight is its rows (an empty batch still counts, so a group is never unbounded).</summary>
    private static long Weight(PipelineElement element) => element is PublishedBatch published ? Math.Max(1, published.Output.Rows) : 1;

    private async Task<Done> WriteAsync(IEnumerable<PipelineElement> group)
    {
        var batches = new List<OutputWriter.Published>();
        foreach (var element in group)
        {
            switch (element)
            {
                case PublishedBatch published:
                    batches.Add(published.Output);
                    break;
                case AwaitingDurability { Request: var request }:
                    await WriteBatchesAsync(batches);
                    request.Checkpointer.Tell(new OutputsDurable(request.Sequence));
                    break;
                default:
                    throw new UnreachableException($"{element.GetType().Name} reached the writer");
            }
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
