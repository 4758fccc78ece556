using System.Collections.Immutable;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Time;
using CartRecovery.Streaming.Ingest;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>The batch a partition actor is working on: what its commands produced so far, until every command it
/// caused is decided and it completes as one <see cref="BatchCompleted"/>, sent to <see cref="ReplyTo"/>.</summary>
/// <param name="replyTo">Who handed the batch's command (the pipeline's ask): the batch completes after the messages
/// of its session actors, when the command's sender is long gone from the actor's context.</param>
internal sealed class PartitionBatch(long sequence, Akka.Actor.IActorRef replyTo)
{
    public long Sequence { get; } = sequence;
    public Akka.Actor.IActorRef ReplyTo { get; } = replyTo;
    public List<RecoveryTrigger> Triggers { get; } = [];
    public List<AuditRecord> Audits { get; } = [];
    public List<SessionOutcome> Outcomes { get; } = [];
    public List<InputRecord> DeadLetters { get; } = [];
    public List<ShopperEvent> Forwards { get; } = [];
    public List<ShopperErasure> Erasures { get; } = [];
    public List<OutcomeRecord> OutcomeRows { get; } = [];
    public List<ShopperProfileRow> Profiles { get; } = [];
    /// <summary>Shoppers whose state the batch may have changed (only they can have become empty).</summary>
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

    public BatchCompleted Complete(int partition, Watermark watermark, int activeSessions) =>
        new(partition, Sequence, Triggers, Audits, Outcomes, DeadLetters, watermark, Events, LateEvents,
            activeSessions, Forwards, OutcomeRows, Profiles) { Erasures = Erasures };
}
