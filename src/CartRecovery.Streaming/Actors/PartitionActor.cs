using System.Collections.Immutable;
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
/// hand-overs once each (<see cref="IdentityMerger"/>, docs/events.md "Identity").
/// </summary>
public sealed partial class PartitionActor : ReceivePersistentActor
{
    private readonly int _partition;
    private readonly RecoveryEngine _engine;
    private readonly IdentityMerger _merger;
    private readonly IBatchSink _sink;
    private readonly TimeSpan _lateness;
    private readonly string _persistenceId;
    private readonly Dictionary<string, long> _nextOffsets = new(StringComparer.Ordinal);
    // Captured at (Stopwatch timestamp): how long a checkpoint takes from capture to saved is a metric only.
    private (long Sequence, byte[] Bytes, Dictionary<string, long> Offsets, bool Drained, long CapturedAt)? _pendingCheckpoint;
    private (long Sequence, Dictionary<string, long> Offsets, bool Drained, int Bytes, long CapturedAt)? _savingCheckpoint;
    private readonly List<long> _unansweredCheckpoints = [];

    private Watermark _watermark = Watermark.Start;
    private IdentityLinks _identity = IdentityLinks.Empty;
    private readonly Dictionary<string, ShopperState> _shoppers = new(StringComparer.Ordinal);
    private readonly Dictionary<SessionKey, SessionState> _sessions = new();
    // A shopper's session ids, sorted (ordinal): usually one, so a small array rather than a set per shopper.
    private readonly Dictionary<string, string[]> _sessionsByShopper = new(StringComparer.Ordinal);
    private readonly Dictionary<SessionKey, IActorRef> _actors = new();
    private readonly TimerIndex _timers = new();
    private readonly Dictionary<string, Queue<ShopperCommand>> _queues = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private long _actorNames;

    private Batch? _batch;

    public override string PersistenceId => _persistenceId;

    public PartitionActor(string groupId, int partition, RecoveryEngine engine, IBatchSink sink)
    {
        _partition = partition;
        _engine = engine;
        _merger = new IdentityMerger(engine);
        _sink = sink;
        _lateness = engine.Policy.AllowedLateness;
        _persistenceId = $"cartrecovery/{groupId}/partition-{partition}";

        Recover<SnapshotOffer>(offer => Restore(PartitionCheckpoint.FromBytes((byte[])offer.Snapshot)));
        Command<RestorePartition>(_ => Sender.Tell(new PartitionRestored(_partition, new Dictionary<string, long>(_nextOffsets), _sessions.Count)));
        Command<Checkpoint>(msg => WhenIdle(() => RequestCheckpoint(msg.Sequence)));
        Command<OutputsDurable>(SaveCheckpoint);
        Command<SaveSnapshotSuccess>(success =>
        {
            if (_savingCheckpoint is not { } saved) return;
            _savingCheckpoint = null;
            // Keep only the newest checkpoint: older ones can never be needed again.
            DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr, success.Metadata.Timestamp.AddTicks(-1)));
            var answered = _unansweredCheckpoints.RemoveAll(sequence => sequence <= saved.Sequence);
            _sink.Checkpointed(new CheckpointSaved(_partition, saved.Offsets, saved.Drained), answered, saved.Bytes, Stopwatch.GetElapsedTime(saved.CapturedAt));
            SaveNextIfAny();
        });
        Command<SaveSnapshotFailure>(failure =>
        {
            _savingCheckpoint = null;
            _sink.CheckpointFailed(_partition, failure.Cause);
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });

        Command<ProcessBatch>(msg => WhenIdle(() => Process(msg)));
        Command<AdvanceIdle>(msg => WhenIdle(() =>
        {
            _batch = new Batch(msg.Sequence);
            if (!_watermark.IsEndOfTime) _watermark = _watermark.AdvanceTo(msg.To, _lateness);
            FireDueTimers();
            TryComplete();
        }));
        Command<Drain>(msg => WhenIdle(() =>
        {
            _batch = new Batch(msg.Sequence);
            _watermark = Watermark.EndOfTime;
            FireDueTimers();
            TryComplete();
        }));
        Command<SessionDecided>(OnDecided);
    }

    public static Props Props(string groupId, int partition, RecoveryEngine engine, IBatchSink sink) =>
        Akka.Actor.Props.Create(() => new PartitionActor(groupId, partition, engine, sink));

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Context.GetLogger().Error(reason, "partition {0}: checkpoint could not be restored", _partition);
        base.OnRecoveryFailure(reason, message);
    }

    private void Restore(PartitionCheckpoint checkpoint)
    {
        _watermark = checkpoint.Watermark;
        _identity = checkpoint.Identity;
        foreach (var (topic, offset) in checkpoint.NextOffsets) _nextOffsets[topic] = offset;
        foreach (var shopper in checkpoint.Shoppers) _shoppers[shopper.ShopperId] = shopper;
        foreach (var session in checkpoint.Sessions) Track(new SessionKey(session.ShopperId, session.SessionId), session);
        foreach (var shopperId in _shoppers.Keys) TrackShopperDeadline(shopperId);
    }

    /// <summary>Captures the state now (between batches), to be saved once the writer has caught up to this point.</summary>
    private void RequestCheckpoint(long sequence)
    {
        var capture = new PartitionCheckpoint
        {
            Partition = _partition,
            NextOffsets = new Dictionary<string, long>(_nextOffsets),
            Watermark = _watermark,
            Shoppers = [.. _shoppers.Values],
            Sessions = [.. _sessions.Values],
            Identity = _watermark.IsEndOfTime ? _identity : _identity.Prune(_watermark.Settled),
        };
        // Only the newest capture matters: a later one covers everything an earlier one did.
        _unansweredCheckpoints.Add(sequence);
        _pendingCheckpoint = (sequence, capture.ToBytes(), capture.NextOffsets, _watermark.IsEndOfTime, Stopwatch.GetTimestamp());
        _sink.WhenDurable(sequence, Self);
    }

    private void SaveCheckpoint(OutputsDurable durable)
    {
        if (_pendingCheckpoint is not { } pending || pending.Sequence != durable.Sequence) return;
        SaveNextIfAny();
    }

    private void SaveNextIfAny()
    {
        if (_savingCheckpoint is not null || _pendingCheckpoint is not { } pending) return;
        _pendingCheckpoint = null;
        _savingCheckpoint = (pending.Sequence, pending.Offsets, pending.Drained, pending.Bytes.Length, pending.CapturedAt);
        SaveSnapshot(pending.Bytes);
    }

    private void WhenIdle(Action handle)
    {
        if (_batch is not null)
        {
            Stash.Stash();
            return;
        }
        handle();
        // A command that opened no batch (a checkpoint request) must not leave the commands stashed behind it waiting.
        if (_batch is null) Stash.UnstashAll();
    }

    private void Process(ProcessBatch msg)
    {
        var batch = _batch = new Batch(msg.Sequence);
        foreach (var record in msg.Records)
        {
            batch.NextOffsets[record.Topic] = record.Offset + 1;
            _nextOffsets[record.Topic] = record.Offset + 1;
            if (record.Event is not { } evt)
            {
                batch.DeadLetters.Add(record);
                continue;
            }
            batch.Events++;
            if (_watermark.IsLate(evt.EventTime)) batch.LateEvents++;
            _watermark = _watermark.Observe(evt.EventTime, _lateness);
            // An event forwarded from a linked anonymous id is the customer's from here on.
            var command = evt is IdentityForwarded forwarded
                ? new ShopperCommand(forwarded.AsCustomers(), _watermark, forwarded.Hops + 1)
                : new ShopperCommand(evt, _watermark, evt is IdentityMerged merged ? merged.Hops : 0);
            Enqueue(command.Event.ShopperId, command);
        }
        FireDueTimers();
        TryComplete();
    }

    private void Enqueue(string shopperId, ShopperCommand command)
    {
        if (!_queues.TryGetValue(shopperId, out var queue)) _queues[shopperId] = queue = new Queue<ShopperCommand>();
        queue.Enqueue(command);
        Pump(shopperId);
    }

    /// <summary>Runs the shopper's next command unless one is in flight; deadlines due before it go first.</summary>
    private void Pump(string shopperId)
    {
        while (!_inFlight.Contains(shopperId))
        {
            _queues.TryGetValue(shopperId, out var queue);
            var hasCommand = queue is { Count: > 0 };
            var stamp = hasCommand ? queue!.Peek().Watermark : _watermark;
            var before = hasCommand ? queue!.Peek().Event.EventTime : (DateTimeOffset?)null;
            if (EarliestDue(shopperId, stamp, before) is { } due)
            {
                if (IsShopperDeadline(due.Key))
                {
                    FireShopperDeadline(shopperId, due.Deadline);
                    continue;
                }
                SessionActorFor(due.Key).Tell(new FireDeadline(Shopper(shopperId), due.Deadline));
                _inFlight.Add(shopperId);
                return;
            }
            if (!hasCommand)
            {
                _queues.Remove(shopperId);
                return;
            }

            var command = queue!.Dequeue();
            if (command.Event is ErasureRequested erasure)
            {
                Erase(shopperId, erasure, command);
                continue;
            }
            if (command.Event is IdentityLinked or IdentityMerged || _identity.Resolve(shopperId, command.Event.EventTime) is not null)
            {
                DecideIdentity(shopperId, command);
                continue;
            }
            switch (command.Event)
            {
                case ConsentEvent or PaymentPending or OutcomeEvent:
                    // Shopper-wide facts (consent, a payment in flight, what became of a trigger): decided here, read by
                    // every session at send time.
                    var decision = command.Event switch
                    {
                        ConsentEvent consent => _engine.Apply(Shopper(shopperId), consent, command.Watermark),
                        OutcomeEvent outcome => _engine.Apply(Shopper(shopperId), outcome, command.Watermark),
                        _ => _engine.Apply(Shopper(shopperId), (PaymentPending)command.Event, command.Watermark),
                    };
                    _shoppers[shopperId] = decision.Shopper;
                    _batch!.Add(decision.Effects);
                    _batch.Touched.Add(shopperId);
                    break;
                case SessionEvent evt when command.Hops > 0 && !_sessions.ContainsKey(new SessionKey(shopperId, evt.SessionId))
                                            && _merger.PartOfBoughtCart(Shopper(shopperId), evt) is { } bought:
                    _batch!.Audits.Add(bought);
                    _batch.Touched.Add(shopperId);
                    break;
                case SessionEvent evt:
                    SessionActorFor(new SessionKey(shopperId, evt.SessionId)).Tell(new ApplyEvent(Shopper(shopperId), evt, command.Watermark));
                    _inFlight.Add(shopperId);
                    return;
            }
        }
    }

    /// <summary>A link, a hand-over, or any event of an id linked to a customer: decided here, synchronously.</summary>
    private void DecideIdentity(string shopperId, ShopperCommand command)
    {
        _batch!.Touched.Add(shopperId);
        if (command.Event is IdentityLinked link) Link(link);
        else if (_identity.Resolve(shopperId, command.Event.EventTime) is { } alias) PassOn(shopperId, command, alias);
        else Adopt((IdentityMerged)command.Event, command.Watermark);
    }

    /// <summary>Anonymous side: hand the id's shopper state and sessions over to the customer's key, and remember the alias.</summary>
    private void Link(IdentityLinked link)
    {
        var anonymousId = link.AnonymousId;
        if (link.ShopperId != anonymousId)
        {
            // Published under the customer's key: the anonymous id's partition holds the state, so the link goes
            // there (same event id, so the hand-over's id is the same whichever key the storefront used).
            _batch!.Forwards.Add(link with { ShopperId = anonymousId });
            return;
        }
        if (_identity.Resolve(anonymousId, link.EventTime) is { } previous)
        {
            // Everything the id had went to the customer at its first link; a repeated link moves nothing, and a
            // link to another customer sends the id's later events there.
            var same = previous.CustomerId == link.CustomerId;
            _batch!.Audits.Add(_merger.LinkAudit(link, same ? IdentityMerger.Reasons.AlreadyLinked : IdentityMerger.Reasons.Relinked, previous));
            _identity = same ? _identity.Used(anonymousId, link.EventTime)
                : _identity.Link(anonymousId, new IdentityAlias(link.CustomerId, link.EventId, link.EventTime, link.EventTime));
            return;
        }
        var sessions = TakeSessions(anonymousId);
        var shopper = Shopper(anonymousId);
        _shoppers.Remove(anonymousId);
        var (record, _, effects) = _merger.HandOverFor(link, shopper, sessions, PartitionCheckpoint.ToJson);
        _batch!.Forwards.Add(record);
        _batch.Add(effects);
        _identity = _identity.Link(anonymousId, new IdentityAlias(link.CustomerId, link.EventId, link.EventTime, link.EventTime));
    }

    /// <summary>An event of a linked id (or a hand-over for a customer id that is itself linked on): to the customer's key.</summary>
    private void PassOn(string shopperId, ShopperCommand command, IdentityAlias alias)
    {
        var evt = command.Event;
        ShopperEvent onward = evt is IdentityMerged merged
            ? merged with
            {
                EventId = RecoveryIds.IdentityMergedPassedOn(merged.EventId, alias.CustomerId),
                ShopperId = alias.CustomerId, CustomerId = alias.CustomerId, Hops = merged.Hops + 1,
            }
            : new IdentityForwarded
            {
                EventId = RecoveryIds.IdentityForwarded(evt.EventId, alias.CustomerId),
                ShopperId = alias.CustomerId, EventTime = evt.EventTime, AnonymousId = shopperId, Hops = command.Hops, Event = evt,
            };
        if (onward is IdentityMerged { Hops: > IdentityRules.MaxHops } or IdentityForwarded { Hops: > IdentityRules.MaxHops })
        {
            _batch!.Audits.Add(_merger.MergeAudit(shopperId, IdentityMerger.Reasons.LinkCycle, evt.EventTime, [evt.EventId, alias.LinkEventId],
                $"not passed on to customer={_merger.Pseudonym(alias.CustomerId)} after {IdentityRules.MaxHops} hops"));
            return;
        }
        _batch!.Forwards.Add(onward);
        _identity = _identity.Used(shopperId, evt.EventTime);
    }

    /// <summary>Customer side: adopt a hand-over once.</summary>
    private void Adopt(IdentityMerged record, Watermark stamp)
    {
        var customerId = record.CustomerId;
        if (_identity.WasApplied(record.EventId, record.EventTime))
        {
            _batch!.Audits.Add(_merger.MergeAudit(customerId, IdentityMerger.Reasons.DuplicateHandOver, record.EventTime, [record.LinkEventId, record.EventId]));
            return;
        }
        if (PartitionCheckpoint.HandOverFrom(record.State) is not { } handOver)
        {
            _batch!.Audits.Add(_merger.MergeAudit(customerId, IdentityMerger.Reasons.InvalidState, record.EventTime, [record.LinkEventId, record.EventId],
                "state is not a hand-over: nothing adopted"));
            return;
        }
        var live = _sessionsByShopper.TryGetValue(customerId, out var ids)
            ? ids.ToDictionary(id => id, id => _sessions[new SessionKey(customerId, id)], StringComparer.Ordinal)
            : new Dictionary<string, SessionState>(StringComparer.Ordinal);
        var adoption = _merger.Adopt(Shopper(customerId), live, handOver, record, late: stamp.IsLate(record.EventTime));
        _shoppers[customerId] = adoption.Shopper;
        foreach (var session in adoption.Sessions)
        {
            var key = new SessionKey(customerId, session.SessionId);
            // A live session's state is replaced: its next command starts a fresh actor from the merged state.
            if (_actors.Remove(key, out var actor)) Context.Stop(actor);
            Track(key, session);
        }
        _batch!.Add(adoption.Effects);
        _identity = _identity.MarkApplied(record.EventId, record.EventTime);
    }

    /// <summary>Removes the shopper's sessions from this partition (stopping their actors) and returns them.</summary>
    private List<SessionState> TakeSessions(string shopperId)
    {
        var taken = new List<SessionState>();
        if (!_sessionsByShopper.Remove(shopperId, out var ids)) return taken;
        foreach (var id in ids)
        {
            var key = new SessionKey(shopperId, id);
            taken.Add(_sessions[key]);
            _sessions.Remove(key);
            _timers.Remove(key);
            if (_actors.Remove(key, out var actor)) Context.Stop(actor);
        }
        return taken;
    }

    private void OnDecided(SessionDecided msg)
    {
        var key = new SessionKey(msg.ShopperId, msg.SessionId);
        var decision = msg.Decision;
        _inFlight.Remove(msg.ShopperId);
        _shoppers[msg.ShopperId] = decision.Shopper;
        _batch!.Add(decision.Effects);
        _batch.Touched.Add(msg.ShopperId);

        _timers.Remove(key);
        if (decision.Session is { } session)
        {
            Track(key, session);

            // A session that only waits for a later reminder step holds no actor, just its state and a timer entry.
            if (session.Phase == SessionPhase.Abandoned && _actors.Remove(key, out var idle)) Context.Stop(idle);
        }
        else
        {
            _sessions.Remove(key);
            _actors.Remove(key); // the session actor stopped itself
            if (_sessionsByShopper.TryGetValue(msg.ShopperId, out var ids))
            {
                var rest = SortedIds.Without(ids, msg.SessionId);
                if (rest.Length == 0) _sessionsByShopper.Remove(msg.ShopperId);
                else _sessionsByShopper[msg.ShopperId] = rest;
            }
        }

        Pump(msg.ShopperId);
        TryComplete();
    }

    private void Track(SessionKey key, SessionState session)
    {
        _sessions[key] = session;
        _sessionsByShopper[key.ShopperId] = _sessionsByShopper.TryGetValue(key.ShopperId, out var ids) ? SortedIds.With(ids, key.SessionId) : [key.SessionId];
        _timers.Set(key, _engine.Deadlines(session));
    }

    private (SessionKey Key, Deadline Deadline)? EarliestDue(string shopperId, Watermark stamp, DateTimeOffset? before)
    {
        var best = ShopperDeadlineDue(shopperId, stamp, before);
        if (!_sessionsByShopper.TryGetValue(shopperId, out var sessionIds)) return best;
        foreach (var sessionId in sessionIds)
        {
            var key = new SessionKey(shopperId, sessionId);
            if (_engine.DueDeadline(_sessions[key], stamp, before) is { } due && (best is null || due.At < best.Value.Item2.At))
                best = (key, due);
        }
        return best;
    }

    private void FireDueTimers()
    {
        foreach (var shopperId in _timers.DueShoppers(_watermark))
            if (!_inFlight.Contains(shopperId)) Pump(shopperId);
    }

    private void TryComplete()
    {
        if (_batch is null || _inFlight.Count > 0 || _queues.Count > 0) return;
        foreach (var shopperId in _batch.Touched) TrackShopperDeadline(shopperId);
        if (_timers.AnyDue(_watermark))
        {
            FireDueTimers();
            if (_inFlight.Count > 0) return;
        }

        var batch = _batch;
        ChainAudits(batch);
        _batch = null;
        // Only shoppers this batch touched can have become empty: no scan over every shopper of the partition.
        foreach (var shopperId in batch.Touched)
            if (_shoppers.TryGetValue(shopperId, out var shopper) && shopper.IsEmpty && !_sessionsByShopper.ContainsKey(shopperId))
                _shoppers.Remove(shopperId);
        _sink.Complete(new BatchCompleted(_partition, batch.Sequence, batch.NextOffsets.ToImmutableDictionary(), batch.Triggers, batch.Audits,
            batch.Outcomes, batch.DeadLetters, _watermark, batch.Events, batch.LateEvents, _sessions.Count, batch.Forwards, batch.OutcomeRows, batch.Profiles) { Erasures = batch.Erasures });
        Stash.UnstashAll();
    }

    private ShopperState Shopper(string shopperId) =>
        _shoppers.TryGetValue(shopperId, out var shopper) ? shopper : _shoppers[shopperId] = ShopperState.New(shopperId);

    private IActorRef SessionActorFor(SessionKey key)
    {
        if (_actors.TryGetValue(key, out var actor)) return actor;
        _sessions.TryGetValue(key, out var state);
        // Session ids come from outside and may hold characters actor names forbid: name children by sequence.
        actor = Context.ActorOf(SessionActor.Props(_engine, state), $"session-{++_actorNames}");
        _actors[key] = actor;
        return actor;
    }

    /// <param name="Hops">How many times the event was passed on from a linked id to its customer.</param>
    private readonly record struct ShopperCommand(ShopperEvent Event, Watermark Watermark, int Hops = 0);

    private sealed class Batch(long sequence)
    {
        public long Sequence { get; } = sequence;
        public Dictionary<string, long> NextOffsets { get; } = new(StringComparer.Ordinal);
        public List<RecoveryTrigger> Triggers { get; } = [];
        public List<AuditRecord> Audits { get; } = [];
        public List<SessionOutcome> Outcomes { get; } = [];
        public List<InputRecord> DeadLetters { get; } = [];
        public List<ShopperEvent> Forwards { get; } = [];
        public List<ShopperErasure> Erasures { get; } = [];
        public List<OutcomeRecord> OutcomeRows { get; } = [];
        public List<ShopperProfileRow> Profiles { get; } = [];
        public HashSet<string> Touched { get; } = new(StringComparer.Ordinal);
        public int Events { get; set; }
        public int LateEvents { get; set; }

        public void Add(Effects effects)
        {
            Triggers.AddRange(effects.Triggers);
            Audits.AddRange(effects.Audits);
            Outcomes.AddRange(effects.Outcomes);
            OutcomeRows.AddRange(effects.OutcomeRows);
            Profiles.AddRange(effects.Profiles);
        }
    }
}

public readonly record struct SessionKey(string ShopperId, string SessionId);

/// <summary>Pending deadlines of a partition's sessions, ordered by time, so idle sessions wake without a scan.</summary>
internal sealed class TimerIndex
{
    private readonly SortedSet<(DateTimeOffset At, string ShopperId, string SessionId)> _eager = new();
    private readonly SortedSet<(DateTimeOffset At, string ShopperId, string SessionId)> _settled = new();
    // The engine's own immutable array of the session's deadlines: no copy per waiting session.
    private readonly Dictionary<SessionKey, ImmutableArray<Deadline>> _bySession = new();

    /// <summary>Replaces the session's pending deadlines.</summary>
    public void Set(SessionKey key, ImmutableArray<Deadline> deadlines)
    {
        Remove(key);
        if (deadlines.IsDefaultOrEmpty) return;
        foreach (var deadline in deadlines) (deadline.Eager ? _eager : _settled).Add((deadline.At, key.ShopperId, key.SessionId));
        _bySession[key] = deadlines;
    }

    public void Remove(SessionKey key)
    {
        if (!_bySession.Remove(key, out var list)) return;
        foreach (var d in list) (d.Eager ? _eager : _settled).Remove((d.At, key.ShopperId, key.SessionId));
    }

    public bool AnyDue(Watermark watermark) =>
        (_eager.Count > 0 && watermark.HasPassed(_eager.Min.At, eager: true)) ||
        (_settled.Count > 0 && watermark.HasPassed(_settled.Min.At, eager: false));

    public List<string> DueShoppers(Watermark watermark)
    {
        var shoppers = new List<string>();
        foreach (var entry in _eager)
        {
            if (!watermark.HasPassed(entry.At, eager: true)) break;
            shoppers.Add(entry.ShopperId);
        }
        foreach (var entry in _settled)
        {
            if (!watermark.HasPassed(entry.At, eager: false)) break;
            shoppers.Add(entry.ShopperId);
        }
        return shoppers;
    }
}

/// <summary>Sorted (ordinal) arrays of ids with copy-on-change add and remove.</summary>
internal static class SortedIds
{
    public static string[] With(string[] ids, string id)
    {
        var at = Array.BinarySearch(ids, id, StringComparer.Ordinal);
        if (at >= 0) return ids;
        at = ~at;
        var copy = new string[ids.Length + 1];
        Array.Copy(ids, copy, at);
        copy[at] = id;
        Array.Copy(ids, at, copy, at + 1, ids.Length - at);
        return copy;
    }

    public static string[] Without(string[] ids, string id)
    {
        var at = Array.BinarySearch(ids, id, StringComparer.Ordinal);
        if (at < 0) return ids;
        var copy = new string[ids.Length - 1];
        Array.Copy(ids, copy, at);
        Array.Copy(ids, at + 1, copy, at, ids.Length - at - 1);
        return copy;
    }
}
