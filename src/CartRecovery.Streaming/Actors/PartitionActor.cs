using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using static CartRecovery.Streaming.Actors.PartitionProtocol;
using static CartRecovery.Streaming.Actors.SessionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>
/// Owns one input partition: its event-time watermark, the policy state of its shoppers, the timer index of
/// its sessions, and one child <see cref="SessionActor"/> per live session (created on demand, stopped when the
/// session ends or only waits for a later reminder step).
///
/// Determinism: a shopper's commands (events in input order, and deadlines that the watermark has passed) run
/// one at a time, and before each event every deadline of that shopper that is due under the watermark stamped
/// on the event, or earlier than the event itself, fires first, earliest first. Different shoppers run concurrently. So each shopper sees the same sequence
/// of commands however the input was batched, and a replay produces the same triggers and rows.
/// A batch completes when every command it caused has been decided.
///
/// Durability: on <see cref="Checkpoint"/> the actor captures its state and the input offsets it reflects, waits
/// until the writer reports every earlier output durable, saves the capture as an Akka.Persistence snapshot, and
/// only then lets the offsets be committed. A new owner of the partition recovers the latest snapshot and the
/// ingest seeks to its offsets, so a crash replays a short tail whose outputs carry the same deterministic ids.
///
/// Identity: an <c>identity_linked</c> of one of its shoppers (the anonymous id) hands everything the partition holds
/// for that id to the customer's key through the input topic, and every later event of the id follows it there, so
/// from the link on only the customer's partition decides for the person. As the customer's partition it adopts
/// hand-overs once each (<see cref="IdentityMerger"/>, docs/events.md "Identity"). Where each of these goes is decided
/// by <see cref="IdentityRouting"/> from the partition's links; the actor carries it out.
/// </summary>
public sealed partial class PartitionActor : ReceivePersistentActor
{
    private readonly int _partition;
    private readonly RecoveryEngine _engine;
    private readonly IdentityMerger _merger;
    private readonly IdentityRouting _routing;
    private readonly IPartitionReports _sink;
    private readonly TimeSpan _lateness;
    private readonly TimeSpan _maxFutureSkew;
    private readonly string _persistenceId;
    private readonly Dictionary<string, long> _nextOffsets = new(StringComparer.Ordinal);
    private readonly CheckpointProtocol _checkpoints = new();
    private readonly CheckpointChanges _changes = new();

    private Watermark _watermark = Watermark.Start;
    // The event time the partition's input tells, robust against one bad clock: the watermark follows it.
    private EventTimeFrontier _frontier = EventTimeFrontier.Empty;
    private IdentityLinks _identity = IdentityLinks.Empty;
    private readonly ShopperStore _shoppers;
    private readonly SessionStore _sessions;
    private readonly Dictionary<SessionKey, IActorRef> _actors = new();
    private readonly ShopperQueues _queues = new();
    private long _actorNames;

    private PartitionBatch? _batch;

    /// <summary>An empty journal row (it names nobody) that takes the partition's next sequence number: written when this
    /// actor takes the partition over and before every full snapshot. A worker that lost the partition but is still
    /// saving (a stop past its timeout, a rebalance mid-save) then fails on the journal's unique (persistence id,
    /// sequence number) instead of writing over the new owner's checkpoint.</summary>
    private static readonly byte[] Fence = [];

    // The takeover fence is written: the partition's checkpoint rows are this actor's alone.
    private bool _fenced;

    public override string PersistenceId => _persistenceId;

    public PartitionActor(string groupId, int partition, RecoveryEngine engine, IPartitionReports sink)
    {
        _partition = partition;
        _engine = engine;
        _merger = new IdentityMerger(engine);
        _routing = new IdentityRouting(_merger, PartitionCheckpoint.HandOverFrom);
        _sink = sink;
        _lateness = engine.Policy.AllowedLateness;
        _maxFutureSkew = engine.Policy.MaxFutureSkew;
        _persistenceId = $"cartrecovery/{groupId}/partition-{partition}";
        // One entry per shopper for its state and its sessions (docs/performance.md, session 11).
        var shoppers = new ShopperEntries();
        _shoppers = new ShopperStore(shoppers);
        _sessions = new SessionStore(engine, shoppers);

        Recover<SnapshotOffer>(offer =>
        {
            var bytes = (byte[])offer.Snapshot;
            Restore(PartitionCheckpoint.FromBytes(bytes));
            _changes.SnapshotSaved(bytes.Length);
        });
        // The deltas journaled after that snapshot, in order.
        Recover<byte[]>(bytes =>
        {
            if (bytes.Length == 0) return; // a fence: it changes nothing
            Restore(PartitionCheckpoint.FromBytes(bytes));
            _changes.DeltaSaved(bytes.Length);
        });
        Command<RestorePartition>(_ =>
        {
            var restorer = Sender;
            void Answer() => restorer.Tell(new PartitionRestored(_partition, new Dictionary<string, long>(_nextOffsets), _sessions.Count));
            if (_fenced) Answer();
            else Persist(Fence, _ =>
            {
                _fenced = true;
                Answer();
            });
        });
        // Sender: the pipeline's ask (kept by the supervisor's Forward and by the stash), answered once the state is captured.
        Command<Checkpoint>(msg => WhenIdle(() => RequestCheckpoint(msg.Sequence, Sender)));
        Command<OutputsDurable>(durable => Save(_checkpoints.Durable(durable.Sequence)));
        Command<SaveSnapshotSuccess>(success =>
        {
            // Keep only the newest snapshot and no delta it covers: older ones can never be needed again, and after an
            // erasure they are the rows that still name the shopper. The save counts once they are deleted.
            _deletesAwaited = 1;
            _saveStage = $"deleting what snapshot {success.Metadata.SequenceNr} replaces";
            DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr, success.Metadata.Timestamp.AddTicks(-1)));
            if (success.Metadata.SequenceNr > 0)
            {
                _deletesAwaited++;
                DeleteMessages(success.Metadata.SequenceNr);
            }
        });
        Command<SaveSnapshotFailure>(failure =>
        {
            _checkpoints.Failed();
            _sink.CheckpointFailed(_partition, failure.Cause);
        });
        Command<DeleteSnapshotsSuccess>(_ => Deleted(null));
        Command<DeleteSnapshotsFailure>(failure => Deleted(failure.Cause));
        Command<DeleteMessagesSuccess>(_ => Deleted(null));
        Command<DeleteMessagesFailure>(failure => Deleted(failure.Cause));

        Command<ProcessBatch>(msg => WhenIdle(() => Process(msg)));
        Command<AdvanceIdle>(msg => WhenIdle(() =>
        {
            _batch = new PartitionBatch(msg.Sequence, Sender);
            // The watermark follows; the frontier does not: which events count as ahead stays a function of the input
            // alone, the same live as in a drain or replay.
            if (!_watermark.IsEndOfTime) _watermark = _watermark.AdvanceTo(msg.To, _lateness);
            FireDueTimers();
            TryComplete();
        }));
        Command<Drain>(msg => WhenIdle(() =>
        {
            _batch = new PartitionBatch(msg.Sequence, Sender);
            _watermark = Watermark.EndOfTime;
            FireDueTimers();
            TryComplete();
        }));
        // Answered even while busy (not stashed): it says what the partition is waiting for.
        Command<ReportStall>(_ => Context.GetLogger().Warning("partition {0}: {1}", _partition, DescribeStage()));
        Command<SessionDecided>(OnDecided);
        Command<SessionPassivated>(OnPassivated);
        Command<SessionStateCopy>(OnStateCopied);
        Command<SessionSupervision.DecisionFailed>(OnDecisionFailed);
    }

    protected override SupervisorStrategy SupervisorStrategy() => SessionSupervision.For(Self);

    public static Props Props(string groupId, int partition, RecoveryEngine engine, IPartitionReports sink) =>
        Akka.Actor.Props.Create(() => new PartitionActor(groupId, partition, engine, sink));

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Context.GetLogger().Error(reason, "partition {0}: checkpoint could not be restored", _partition);
        // The worker stops now with the cause, instead of the restore's ask timing out minutes later.
        _sink.PartitionFailed(new WorkerFailedException($"partition {_partition}: its checkpoint could not be restored (a damaged or unreadable checkpoint store?)", reason));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (!_fenced)
        {
            // Another worker saved this partition between this actor's recovery and its fence: it still thinks it owns it.
            _sink.PartitionFailed(new WorkerFailedException($"partition {_partition}: another worker saved its checkpoint while this one took it over; restart to recover from it", cause));
            base.OnPersistFailure(cause, @event, sequenceNr);
            return;
        }
        _checkpoints.Failed();
        _sink.CheckpointFailed(_partition, cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _checkpoints.Failed();
        _sink.CheckpointFailed(_partition, cause);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    /// <summary>Applies a full snapshot (to an empty partition) or a delta (see <see cref="PartitionCheckpoint.ChangedShoppers"/>).</summary>
    private void Restore(PartitionCheckpoint checkpoint)
    {
        foreach (var shopperId in checkpoint.ChangedShoppers ?? [])
        {
            _shoppers.Remove(shopperId);
            _sessions.TakeShopper(shopperId);
        }
        _watermark = checkpoint.Watermark;
        _frontier = checkpoint.Frontier ?? EventTimeFrontier.Resume(checkpoint.Watermark);
        _identity = checkpoint.Identity;
        foreach (var (topic, offset) in checkpoint.NextOffsets) _nextOffsets[topic] = offset;
        foreach (var shopper in checkpoint.Shoppers) _shoppers[shopper.ShopperId] = shopper;
        foreach (var session in checkpoint.Sessions) _sessions.Track(new SessionKey(session.ShopperId, session.SessionId), session);
        // The shoppers' own deadlines are not checkpointed: rebuilt from the state (a delta: its changed shoppers only).
        foreach (var shopperId in checkpoint.ChangedShoppers ?? []) TrackShopperDeadline(shopperId);
        foreach (var shopper in checkpoint.Shoppers) TrackShopperDeadline(shopper.ShopperId);
    }

    /// <summary>Captures the state now (between batches), to be saved once the writer has caught up to this point: asks
    /// <paramref name="replyTo"/> (who asked for the checkpoint) to say when (<see cref="DurabilityRequest"/>).</summary>
    private void Capture(long sequence, IActorRef replyTo)
    {
        // Between full snapshots, only the shoppers changed since the last checkpoint (with all their sessions).
        var changed = _changes.NextIsFull ? null : _changes.Changed.Order(StringComparer.Ordinal).ToList();
        var capture = CheckpointCapture.Take(_partition, new Dictionary<string, long>(_nextOffsets), _watermark, _frontier,
            _watermark.IsEndOfTime ? _identity : _identity.Prune(_watermark.Settled), _shoppers, _sessions, _liveCopies, changed);
        _liveCopies.Clear();
        _checkpoints.Captured(sequence, capture.ToBytes(), capture.NextOffsets, _watermark.IsEndOfTime, capture.IsDelta, _changes.Generation);
        replyTo.Tell(new DurabilityRequest(_partition, sequence, Self), Self);
    }

    private void Save(CheckpointProtocol.Capture? capture)
    {
        if (capture is null) return;
        _changes.Saving(capture.Generation);
        _saveStage = capture.Delta ? $"journaling delta {capture.Sequence}" : $"journaling the fence before snapshot {capture.Sequence}";
        if (capture.Delta) PersistAsync(capture.Bytes, _ => Saved());
        else
        {
            _savingCoversErasure = _changes.FullSaving(capture.Generation);
            // The fence first: a snapshot store overwrites a snapshot of the same sequence number, the journal refuses
            // it, so a former owner cannot replace this snapshot. And the journal keeps its newest row, marked deleted,
            // when a snapshot deletes the deltas before it: the fence is that row, so no delta (of a shopper erased
            // since, say) outlives its snapshot.
            PersistAsync(Fence, _ =>
            {
                _saveStage = $"saving snapshot {capture.Sequence}";
                SaveSnapshot(capture.Bytes);
            });
        }
    }

    // Deletions of what a saved full snapshot replaces, not answered yet; and whether that snapshot removes an erased shopper.
    private int _deletesAwaited;
    private bool _savingCoversErasure;

    /// <summary>A deletion of older snapshots or of the deltas a new snapshot covers finished. Deltas a snapshot covers
    /// are never replayed (recovery starts after it), so a failure costs space only, except after an erasure: then the
    /// older rows still name the erased shopper, and the checkpoint fails (the worker stops; its successor's first full
    /// snapshot deletes them again).</summary>
    private void Deleted(Exception? failure)
    {
        if (_deletesAwaited == 0) return;
        if (failure is not null)
        {
            if (_savingCoversErasure)
            {
                _deletesAwaited = 0;
                _checkpoints.Failed();
                _sink.CheckpointFailed(_partition, new InvalidOperationException("the checkpoint rows an erasure replaces could not be deleted", failure));
                return;
            }
            Context.GetLogger().Warning("partition {0}: checkpoint rows a snapshot replaced could not be deleted ({1}); they cost space only", _partition, failure.Message);
        }
        if (--_deletesAwaited > 0) return;
        _savingCoversErasure = false;
        Saved();
    }

    /// <summary>The running save (snapshot or delta) is durable: its offsets may be committed; the next capture saves.</summary>
    private void Saved()
    {
        if (_checkpoints.Succeeded() is not { } saved) return;
        _saveStage = null;
        if (saved.Delta) _changes.DeltaSaved(saved.Bytes);
        else _changes.SnapshotSaved(saved.Bytes);
        _sink.Checkpointed(new CheckpointSaved(_partition, saved.Offsets, saved.Drained, saved.Delta), saved.Answered, saved.Bytes, saved.Duration);
        Save(_checkpoints.NextToSave());
    }

    // Where the running save is (for stall reports): null when none runs.
    private string? _saveStage;

    private string DescribeStage()
    {
        var batch = _batch is { } b ? $"batch {b.Sequence} deciding ({(_queues.IsIdle ? "no" : "some")} shopper commands queued or in flight)" : "no batch";
        var states = _checkpointAwaitingStates is { } awaiting ? $"; checkpoint {awaiting.Sequence} waiting for {_checkpointCopiesAwaited} session states" : "";
        return $"{batch}{states}; save: {_saveStage ?? "none running"}; {_sessions.Count} sessions, {Stash.Count} commands stashed";
    }

    /// <summary>A batch is being decided, or a checkpoint waits for its live sessions' states.</summary>
    private bool IsBusy => _batch is not null || _checkpointAwaitingStates is not null;

    private void WhenIdle(Action handle)
    {
        if (IsBusy)
        {
            Stash.Stash();
            return;
        }
        handle();
        // A command that opened no batch (a checkpoint request) must not leave the commands stashed behind it waiting.
        if (!IsBusy) Stash.UnstashAll();
    }

    private void Process(ProcessBatch msg)
    {
        var batch = _batch = new PartitionBatch(msg.Sequence, Sender);
        foreach (var record in msg.Records)
        {
            _nextOffsets[record.Topic] = record.Offset + 1;
            if (record.Event is not { } evt)
            {
                // Neither an event nor a rejection: a part of a split record joined earlier (SplitRecordJoiner), only progress.
                if (record.Rejected is not null) batch.DeadLetters.Add(record);
                // A record that claimed to be the worker's own is also audited, in its shopper's order (never applied:
                // it moves neither the watermark nor any deadline).
                if (record.Refused is { } refused) Enqueue(refused.ShopperId, new ShopperCommand(refused, _watermark, record));
                continue;
            }
            batch.Events++;
            if (_watermark.IsLate(evt.EventTime)) batch.LateEvents++;
            // An event forwarded from a linked anonymous id is the customer's from here on.
            var (shopperEvent, hops) = IdentityRouting.Arrived(evt);
            // An event far ahead of the partition's time moves no watermark (everybody's timers, lateness) until another
            // shopper confirms that time; its own shopper gets it as usual. A claim this event refuted (one bad clock) is
            // audited in its shopper's order of commands, so the rows (and their chain) do not depend on batching.
            var step = _frontier.Observe(shopperEvent.ShopperId, evt.EventTime, _maxFutureSkew, evt.EventId,
                shopperEvent is SessionEvent session ? session.SessionId : "");
            _frontier = step.Frontier;
            if (_frontier.Accepted is { } accepted) _watermark = _watermark.Observe(accepted, _lateness);
            foreach (var claim in step.Refuted)
                Enqueue(claim.ShopperId, new ShopperCommand(shopperEvent, _watermark, record, Notice: _engine.FutureEventAudit(claim, evt.EventTime)));
            var command = new ShopperCommand(shopperEvent, _watermark, record, hops);
            Enqueue(command.Event.ShopperId, command);
        }
        FireDueTimers();
        TryComplete();
    }

    private void Enqueue(string shopperId, ShopperCommand command)
    {
        _queues.Enqueue(shopperId, command);
        Pump(shopperId);
    }

    /// <summary>Runs the shopper's next command unless one is in flight; deadlines due before it go first.</summary>
    private void Pump(string shopperId)
    {
        while (!_queues.IsInFlight(shopperId))
        {
            var hasCommand = _queues.TryPeek(shopperId, out var next);
            var stamp = hasCommand ? next.Watermark : _watermark;
            // A refused record's event time is not to be trusted: it brings no deadline forward.
            var before = hasCommand && next.Source.Refused is null && next.Notice is null ? next.Event.EventTime : (DateTimeOffset?)null;
            if (EarliestDue(shopperId, stamp, before) is { } due)
            {
                if (IsShopperDeadline(due.Key))
                {
                    FireShopperDeadline(shopperId, due.Deadline);
                    continue;
                }
                SessionActorFor(due.Key).Tell(new FireDeadline(Shopper(shopperId), due.Deadline));
                _queues.Started(shopperId, null);
                return;
            }
            if (!hasCommand)
            {
                _queues.Drop(shopperId);
                return;
            }

            if (next.Notice is { } notice)
            {
                _queues.Dequeue(shopperId);
                _batch!.Audits.Add(notice);
                _batch.Touched.Add(shopperId);
                continue;
            }
            if (next.Source.Refused is not null)
            {
                _queues.Dequeue(shopperId);
                _batch!.Audits.Add(RefusedRecordAudit(next.Source));
                _batch.Touched.Add(shopperId);
                continue;
            }
            // A hand-over or an erasure takes the shopper's session states: their live actors hand them over first.
            if (_sessions.LiveCount > 0 && NeedsSessionStates(shopperId, next) && PassivateShopper(shopperId)) return;
            var command = _queues.Dequeue(shopperId);
            if (command.Event is not SessionEvent evt || IsDecidedHere(shopperId, command)) DecideHere(shopperId, command);
            else if (command.Hops == 0 || _sessions.Contains(new SessionKey(shopperId, evt.SessionId)) || !IsPartOfBoughtCart(shopperId, command, evt))
            {
                var key = new SessionKey(shopperId, evt.SessionId);
                var run = Run(shopperId, command, evt);
                SessionActorFor(key).Tell(new ApplyEvents(Shopper(shopperId), run, _sessions.OtherDeadlines(key)));
                _queues.Started(shopperId, command, peeked: run.Length - 1);
                return;
            }
        }
    }

    /// <summary>An erasure, an identity command, or any event of an id linked to a customer: the partition decides it.</summary>
    private bool IsDecidedHere(string shopperId, ShopperCommand command) =>
        command.Event is ErasureRequested || IdentityRouting.Routes(_identity, shopperId, command.Event);

    /// <summary>Decides a command the partition takes itself, synchronously: an erasure, identity, and the shopper-wide
    /// facts (consent, a payment in flight, what became of a trigger), read by every session at send time. (Apart from
    /// <see cref="Pump"/>, so the closures here are not allocated for every command.)</summary>
    private void DecideHere(string shopperId, ShopperCommand command)
    {
        if (command.Event is ErasureRequested erasure)
        {
            Contained(shopperId, command, () => Erase(shopperId, erasure, command));
            return;
        }
        if (IsDecidedHere(shopperId, command))
        {
            Contained(shopperId, command, () => DecideIdentity(shopperId, command));
            return;
        }
        if (command.Event is not (ConsentEvent or PaymentPending or OutcomeEvent)) return;
        Contained(shopperId, command, () =>
        {
            var decision = command.Event switch
            {
                ConsentEvent consent => _engine.Apply(Shopper(shopperId), consent, command.Watermark),
                OutcomeEvent outcome => _engine.Apply(Shopper(shopperId), outcome, command.Watermark),
                _ => _engine.Apply(Shopper(shopperId), (PaymentPending)command.Event, command.Watermark),
            };
            _shoppers[shopperId] = decision.Shopper;
            _batch!.Add(decision.Effects);
            _batch.Touched.Add(shopperId);
        });
    }

    /// <summary>A forwarded event of a session the customer does not have may be part of a cart already bought: then it is
    /// audited as such (or dead-lettered when that check throws) instead of being applied.</summary>
    private bool IsPartOfBoughtCart(string shopperId, ShopperCommand command, SessionEvent evt)
    {
        AuditRecord? bought = null;
        if (!Contained(shopperId, command, () => bought = _merger.PartOfBoughtCart(Shopper(shopperId), evt))) return true;
        if (bought is null) return false;
        _batch!.Audits.Add(bought);
        _batch.Touched.Add(shopperId);
        return true;
    }

    /// <summary>Longest run of a shopper's events sent to a session actor in one message.</summary>
    private const int MaxRun = 256;

    /// <summary>The shopper's event <paramref name="first"/> (dequeued) and the events of the same session waiting right
    /// behind it that its actor can decide in the same message: plain events of this session, in input order, up to the
    /// first command the partition decides itself (a shopper-wide fact, identity, erasure, a notice, a refused or
    /// forwarded record). Deadlines due between them stop the run in the actor (<see cref="SessionRun"/>).</summary>
    private ImmutableArray<StampedEvent> Run(string shopperId, ShopperCommand first, SessionEvent evt)
    {
        var length = 1;
        // A failed shopper deadline is not due for the partition but would be for the run: one event at a time then.
        if (_failedShopperDeadlines.Count == 0 || !_failedShopperDeadlines.Any(failed => failed.ShopperId == shopperId))
        {
            var waiting = _queues.Waiting(shopperId);
            while (length < MaxRun && waiting.MoveNext() && Joins(shopperId, evt.SessionId, waiting.Current)) length++;
        }
        var run = new StampedEvent[length];
        run[0] = new StampedEvent(evt, first.Watermark);
        if (length > 1)
        {
            var waiting = _queues.Waiting(shopperId);
            for (var i = 1; i < length && waiting.MoveNext(); i++) run[i] = new StampedEvent((SessionEvent)waiting.Current.Event, waiting.Current.Watermark);
        }
        return ImmutableCollectionsMarshal.AsImmutableArray(run);
    }

    private bool Joins(string shopperId, string sessionId, ShopperCommand next) =>
        next is { Notice: null, Source.Refused: null, Hops: 0, Event: SessionEvent same } && same.SessionId == sessionId
        && _identity.Resolve(shopperId, same.EventTime) is null;

    /// <summary>A link, a hand-over, or any event of an id linked to a customer: routed here, synchronously.</summary>
    private void DecideIdentity(string shopperId, ShopperCommand command)
    {
        _batch!.Touched.Add(shopperId);
        CarryOut(_routing.Route(_identity, shopperId, command.Event, command.Hops, command.Watermark)
            ?? throw new InvalidOperationException("an event the partition does not route reached identity routing"));
    }

    /// <summary>Carries out an identity route (<see cref="IdentityRouting"/> decided it): sends, moves session states, and
    /// keeps the links it leaves, last, so a step that throws leaves the links as they were.</summary>
    private void CarryOut(IdentityRoute route)
    {
        switch (route)
        {
            case IdentityRoute.PassOn passOn:
                _batch!.Forwards.Add(passOn.Onward);
                break;
            case IdentityRoute.Audited audited:
                _batch!.Audits.Add(audited.Audit);
                break;
            case IdentityRoute.FirstLink first:
                HandOver(first.Link);
                break;
            case IdentityRoute.Adopt adopt:
                Adopt(adopt);
                break;
        }
        _identity = route.Links;
    }

    /// <summary>Anonymous side, at the id's first link: hand the id's shopper state and sessions over to the customer's key.</summary>
    private void HandOver(IdentityLinked link)
    {
        var anonymousId = link.AnonymousId;
        var sessions = TakeSessions(anonymousId);
        var shopper = Shopper(anonymousId);
        _shoppers.Remove(anonymousId);
        var (record, _, effects) = _merger.HandOverFor(link, shopper, sessions, PartitionCheckpoint.ToJson);
        _batch!.Forwards.Add(record);
        _batch.Add(effects);
    }

    /// <summary>Customer side: adopt a hand-over (once: <see cref="IdentityRouting"/> audits a repeated one).</summary>
    private void Adopt(IdentityRoute.Adopt route)
    {
        var customerId = route.Record.CustomerId;
        var live = _sessions.OfShopper(customerId);
        var adoption = _merger.Adopt(Shopper(customerId), live, route.State, route.Record, route.Late);
        _shoppers[customerId] = adoption.Shopper;
        foreach (var session in adoption.Sessions)
        {
            var key = new SessionKey(customerId, session.SessionId);
            // A live session's state is replaced: its next command starts a fresh actor from the merged state.
            if (_actors.Remove(key, out var actor)) Context.Stop(actor);
            _sessions.Track(key, session);
        }
        _batch!.Add(adoption.Effects);
        _batch.Touched.Add(customerId);
    }

    /// <summary>Removes the shopper's sessions from this partition (stopping their actors) and returns them.</summary>
    private List<SessionState> TakeSessions(string shopperId)
    {
        var taken = new List<SessionState>();
        foreach (var (key, session) in _sessions.TakeShopper(shopperId))
        {
            taken.Add(session);
            if (_actors.Remove(key, out var actor)) Context.Stop(actor);
        }
        return taken;
    }

    private void OnDecided(SessionDecided msg)
    {
        var key = new SessionKey(msg.ShopperId, msg.SessionId);
        var last = _queues.Finished(msg.ShopperId, msg.Consumed);
        _shoppers[msg.ShopperId] = msg.Shopper;
        foreach (var effects in msg.Effects) _batch!.Add(effects);
        _batch!.Touched.Add(msg.ShopperId);
        if (msg.Failure is { } cause) EventFailed(last!.Value, cause);

        if (msg.Ended)
        {
            _sessions.Forget(key);
            _actors.Remove(key); // the session actor stopped itself
        }
        else if (msg.Passivated is { } waiting)
        {
            // A session that only waits for a later reminder step holds no actor, just its state and a timer entry.
            _actors.Remove(key); // the session actor stopped itself
            _sessions.Track(key, waiting);
        }
        else if (!msg.Deadlines.IsDefault)
        {
            _sessions.TrackLive(key, msg.Deadlines);
        }

        Pump(msg.ShopperId);
        TryComplete();
    }

    /// <summary>The decision code threw on a shopper's event: the session actor kept the state it had before that event,
    /// the event goes to the dead-letter topic with the cause, and the shopper's next command runs.</summary>
    private void EventFailed(ShopperCommand command, Exception cause)
    {
        Context.GetLogger().Error(cause, "partition {0}: decision failed on {1} at {2}/{3}; event dead-lettered", _partition,
            command.Event.GetType().Name, command.Source.Topic, command.Source.Offset);
        _batch!.Events--; // counted once as an input record: now as a dead letter
        _batch.DeadLetters.Add(DecisionFailures.DeadLetter(command.Source, command.Event, cause));
    }

    /// <summary>A deadline's decision threw (see <see cref="SessionSupervision"/>).</summary>
    private void OnDecisionFailed(SessionSupervision.DecisionFailed msg)
    {
        _queues.Finished(msg.ShopperId);
        DeadlineFailed(msg, ((FireDeadline)msg.Command).Deadline);
    }

    /// <summary>A session's deadline whose decision threw: firing it again would throw again (the state did not change), so
    /// the deadline is dead-lettered with the cause and that one session is dropped, its actor stopped. The shopper's other
    /// sessions and state, and every other shopper, go on.</summary>
    private void DeadlineFailed(SessionSupervision.DecisionFailed msg, Deadline deadline)
    {
        Context.GetLogger().Error(msg.Cause, "partition {0}: decision failed on a {1} deadline; deadline dead-lettered and its session dropped",
            _partition, deadline.Kind);
        _batch!.DeadLetters.Add(DecisionFailures.TimerDeadLetter(_partition, msg.ShopperId, msg.SessionId, deadline, msg.Cause));
        _batch.Touched.Add(msg.ShopperId);
        var key = new SessionKey(msg.ShopperId, msg.SessionId);
        _sessions.Forget(key);
        if (_actors.Remove(key, out var actor)) Context.Stop(actor);
        Pump(msg.ShopperId);
        TryComplete();
    }

    /// <summary>Runs a decision the partition takes itself (shopper-wide facts, identity, erasure). One that throws fails
    /// that command alone, as a session's does: its event is dead-lettered with the cause and the shopper's next command
    /// runs. (Such a decision computes before it assigns; identity and erasure steps done before the throw stay done.)</summary>
    private bool Contained(string shopperId, ShopperCommand command, Action decide)
    {
        try
        {
            decide();
            return true;
        }
        catch (Exception e)
        {
            Context.GetLogger().Error(e, "partition {0}: decision failed on {1} at {2}/{3}; event dead-lettered", _partition,
                command.Event.GetType().Name, command.Source.Topic, command.Source.Offset);
            _batch!.Events--; // counted once as an input record: now as a dead letter
            _batch.DeadLetters.Add(DecisionFailures.DeadLetter(command.Source, command.Event, e));
            _batch.Touched.Add(shopperId);
            return false;
        }
    }

    private void FireDueTimers()
    {
        foreach (var shopperId in _sessions.DueShoppers(_watermark))
            if (!_queues.IsInFlight(shopperId)) Pump(shopperId);
    }

    private void TryComplete()
    {
        if (_batch is null || !_queues.IsIdle) return;
        foreach (var shopperId in _batch.Touched) TrackShopperDeadline(shopperId);
        if (_sessions.AnyDue(_watermark))
        {
            FireDueTimers();
            if (_queues.AnyInFlight) return;
        }

        var batch = _batch;
        ChainAudits(batch);
        _batch = null;
        if (batch.Touched.Count > 0) _changes.Touched(batch.Touched);
        if (batch.Erasures.Count > 0) _changes.RequireFull();
        // Only shoppers this batch touched can have become empty: no scan over every shopper of the partition.
        foreach (var shopperId in batch.Touched)
            if (_shoppers.TryGetValue(shopperId, out var shopper) && shopper.IsEmpty && !_sessions.HasSessions(shopperId))
                _shoppers.Remove(shopperId);
        batch.ReplyTo.Tell(batch.Complete(_partition, _watermark, _sessions.Count), Self);
        Stash.UnstashAll();
    }

    private ShopperState Shopper(string shopperId) =>
        _shoppers.TryGetValue(shopperId, out var shopper) ? shopper : _shoppers[shopperId] = ShopperState.New(shopperId);

    private IActorRef SessionActorFor(SessionKey key)
    {
        if (_actors.TryGetValue(key, out var actor)) return actor;
        // The session's state (if it has one yet) leaves the store for its actor, its only owner while it lives.
        // Session ids come from outside and may hold characters actor names forbid: name children by sequence.
        actor = Context.ActorOf(SessionActor.Props(_engine, _sessions.Revive(key)), $"session-{++_actorNames}");
        _actors[key] = actor;
        return actor;
    }
}
