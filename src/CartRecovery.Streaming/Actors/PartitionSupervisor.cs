using Akka.Actor;
using CartRecovery.Domain.Decisions;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>Parent of the partition actors: creates one per input partition on first use and forgets it when
/// the partition is revoked from this worker.</summary>
public sealed class PartitionSupervisor : ReceiveActor
{
    /// <summary>The partition left this worker: stop its actor (its outputs are written and committed first).</summary>
    public sealed record ForgetPartition(int Partition);

    public PartitionSupervisor(RecoveryEngine engine, IBatchSink sink)
    {
        IActorRef Child(int partition)
        {
            var name = $"partition-{partition}";
            var child = Context.Child(name);
            return child.IsNobody() ? Context.ActorOf(PartitionActor.Props(partition, engine, sink), name) : child;
        }

        Receive<ProcessBatch>(msg => Child(msg.Partition).Forward(msg));
        Receive<AdvanceIdle>(msg => Child(msg.Partition).Forward(msg));
        Receive<Drain>(msg => Child(msg.Partition).Forward(msg));
        Receive<ForgetPartition>(msg =>
        {
            var child = Context.Child($"partition-{msg.Partition}");
            if (!child.IsNobody()) Context.Stop(child);
        });
    }

    public static Props Props(RecoveryEngine engine, IBatchSink sink) => Akka.Actor.Props.Create(() => new PartitionSupervisor(engine, sink));
}
