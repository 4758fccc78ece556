using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Ingest;

namespace CartRecovery.Streaming.Actors;

/// <summary>Messages between the ingest, the partition actors and the session actors.</summary>
public static class PartitionProtocol
{
    /// <summary>A command the ingest hands to a partition actor, numbered per partition, answered to its sender (the
    /// pipeline's ask). A batch command (<see cref="ProcessBatch"/>, <see cref="AdvanceIdle"/>, <see cref="Drain"/>) is
    /// answered by one <see cref="BatchCompleted"/> with its sequence; a <see cref="Checkpoint"/> by one
    /// <see cref="DurabilityRequest"/>.</summary>
    public interface IPartitionCommand
    {
        int Partition { get; }
        long Sequence { get; }
    }

    /// <summary>Records of one partition, already in merged order. <see cref="Sequence"/> numbers batches per partition.</summary>
    public sealed record ProcessBatch(int Partition, long Sequence, IReadOnlyList<InputRecord> Records) : IPartitionCommand;

    /// <summary>Live mode: the partition had no input for a while; move its watermark as if it had seen an event at
    /// <see cref="To"/> (the stream's newest event time, or the wall clock: <see cref="IdleWatermark"/>).</summary>
    public sealed record AdvanceIdle(int Partition, long Sequence, DateTimeOffset To) : IPartitionCommand;

    /// <summary>End of input is end of event time: fire every pending timer.</summary>
    public sealed record Drain(int Partition, long Sequence) : IPartitionCommand;

    /// <summary>Take a checkpoint once the outputs of every batch before it are written.</summary>
    public sealed record Checkpoint(int Partition, long Sequence) : IPartitionCommand;

    /// <summary>The worker waits on the partitions without progress: each partition actor logs what it is doing.</summary>
    public sealed record ReportStall
    {
        public static readonly ReportStall Instance = new();
    }

    /// <summary>Sent by the ingest when the partition is assigned: recover, then reply <see cref="PartitionRestored"/>.</summary>
    public sealed record RestorePartition(int Partition);

    /// <summary>Where to resume each input topic of the partition (absent: from the beginning).</summary>
    public sealed record PartitionRestored(int Partition, IReadOnlyDictionary<string, long> NextOffsets, int Sessions);

    /// <summary>A saved checkpoint: the input offsets it reflects may be committed. <see cref="Drained"/>: it was taken
    /// after end of input was declared (watermark at end of time), so every pending reminder of the partition fired.
    /// <see cref="Incremental"/>: only what changed since the previous checkpoint was written (journaled after a snapshot).</summary>
    public sealed record CheckpointSaved(int Partition, IReadOnlyDictionary<string, long> NextOffsets, bool Drained, bool Incremental = false);

    /// <summary>A partition actor's answer to its <see cref="Checkpoint"/> (sent to whoever asked): the state is captured;
    /// tell <see cref="Checkpointer"/> <see cref="OutputsDurable"/> of <see cref="Sequence"/> once every output of the
    /// batches answered before it is written, and it saves.</summary>
    public sealed record DurabilityRequest(int Partition, long Sequence, Akka.Actor.IActorRef Checkpointer);

    /// <summary>The writer's answer to a <see cref="DurabilityRequest"/>: every output enqueued before it is durable.</summary>
    public sealed record OutputsDurable(long Sequence);

    /// <summary>Everything a batch produced (<see cref="BatchCompleted.Forwards"/>: identity hand-overs and forwarded
    /// events for other shoppers' keys, published to the input topic). Its input offsets are not here: what becomes
    /// committable is a saved checkpoint's offsets (<see cref="CheckpointSaved"/>), after its outputs are written.</summary>
    public sealed record BatchCompleted(
        int Partition,
        long Sequence,
        IReadOnlyList<RecoveryTrigger> Triggers,
        IReadOnlyList<AuditRecord> Audits,
        IReadOnlyList<SessionOutcome> Outcomes,
        IReadOnlyList<InputRecord> DeadLetters,
        Watermark Watermark,
        int Events,
        int LateEvents,
        int ActiveSessions,
        IReadOnlyList<ShopperEvent>? Forwards = null,
        IReadOnlyList<OutcomeRecord>? OutcomeRows = null,
        IReadOnlyList<ShopperProfileRow>? Profiles = null)
    {
        /// <summary>Shoppers erased in this batch: the writer erases their rows already in the analytics store before it
        /// writes this batch (whose own rows of them are already redacted, docs/compliance.md).</summary>
        public IReadOnlyList<ShopperErasure> Erasures { get; init; } = [];
    }

    /// <summary>An erasure the writer applies to the store: the shopper id and the keyed pseudonym replacing it, and the
    /// function giving each of the shopper's session ids its pseudonym (the one the batch's own rows were redacted with).</summary>
    public sealed record ShopperErasure(string ShopperId, string Pseudonym, Func<string, string> SessionPseudonym);
}

/// <summary>Messages between a partition actor and its session actors.</summary>
public static class SessionProtocol
{
    public abstract record SessionCommand(ShopperState Shopper);

    /// <summary>A run of the shopper's consecutive events of one session, in input order (see <see cref="SessionRun"/>).
    /// <see cref="OtherDeadlines"/>: the pending deadlines of the shopper's other sessions, which stop the run when due.</summary>
    public sealed record ApplyEvents(ShopperState Shopper, ImmutableArray<StampedEvent> Events, ImmutableArray<Deadline> OtherDeadlines)
        : SessionCommand(Shopper);

    public sealed record FireDeadline(ShopperState Shopper, Deadline Deadline) : SessionCommand(Shopper);

    /// <summary>A command's decision: the shopper's new policy state and the effects, and what became of the session.
    /// <see cref="Ended"/>: it finished (or a new session's first event failed) and its actor stopped.
    /// <see cref="Passivated"/>: it only waits for a later reminder step, so its actor handed this state to the partition's
    /// store and stopped. Otherwise the actor keeps the state, and <see cref="Deadlines"/> are the session's pending
    /// deadlines (the partition's timers; default: unchanged, no event was applied). <see cref="Consumed"/>: how many
    /// events of an <see cref="ApplyEvents"/> were taken, the last of them failed when <see cref="Failure"/> is set (its
    /// decision threw; the state is the one before it); the rest wait for the shopper's next command.</summary>
    public sealed record SessionDecided(string ShopperId, string SessionId, ShopperState Shopper, IReadOnlyList<Effects> Effects, bool Ended,
        SessionState? Passivated, ImmutableArray<Deadline> Deadlines)
    {
        public int Consumed { get; init; } = 1;
        public Exception? Failure { get; init; }
    }

    /// <summary>A checkpoint asks a live session for its state; the actor answers <see cref="SessionStateCopy"/> and goes on.</summary>
    public sealed record CopyState
    {
        public static readonly CopyState Instance = new();
    }

    /// <summary>The answer to <see cref="CopyState"/>: the session's state (immutable: the actor keeps owning it).</summary>
    public sealed record SessionStateCopy(string ShopperId, string SessionId, SessionState State);

    /// <summary>Hand the session's state to the partition's store and stop (<see cref="SessionPassivated"/>).</summary>
    public sealed record Passivate
    {
        public static readonly Passivate Instance = new();
    }

    /// <summary>The answer to <see cref="Passivate"/>: the session's state, now the store's; the actor has stopped.</summary>
    public sealed record SessionPassivated(string ShopperId, string SessionId, SessionState State);

    /// <summary>Diagnostics: asks a session actor for the state it owns (answered with <see cref="SessionStateOwned"/>).</summary>
    public sealed record ReportState
    {
        public static readonly ReportState Instance = new();
    }

    public sealed record SessionStateOwned(SessionState? State);
}
