using Akka.Actor;
using CartRecovery.Domain.Decisions;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>Parent of the partition actors: creates one per input partition on first use and stops it when the
/// partition is revoked from this worker (after its checkpoint is saved).</summary>
public sealed class PartitionSupervisor : ReceiveActor
{
    /// <summary>The partition left this worker: stop its actor.</summary>
    public sealed record ForgetPartition(int Partition);

    private readonly Dictionary<int, IActorRef> _children = new();
    private long _incarnation;

    public PartitionSupervisor(string groupId, RecoveryEngine engine, IBatchSink sink)
    {
        IActorRef Child(int partition)
        {
            if (_children.TryGetValue(partition, out var child)) return child;
            // A fresh name per incarnation: a revoked partition's old actor may still be stopping when it comes back.
            child = Context.ActorOf(PartitionActor.Props(groupId, partition, engine, sink), $"partition-{partition}-{++_incarnation}");
            _children[partition] = child;
            return child;
        }

        Receive<ProcessBatch>(msg => Child(msg.Partition).Forward(msg));
        Receive<AdvanceIdle>(msg => Child(msg.Partition).Forward(msg));
        Receive<Drain>(msg => Child(msg.Partition).Forward(msg));
        Receive<Checkpoint>(msg => Child(msg.Partition).Forward(msg));
        Receive<RestorePartition>(msg => Child(msg.Partition).Forward(msg));
        Receive<ForgetPartition>(msg =>
        {
            if (_children.Remove(msg.Partition, out var child)) Context.Stop(child);
        });
    }

    public static Props Props(string groupId, RecoveryEngine engine, IBatchSink sink) =>
        Akka.Actor.Props.Create(() => new PartitionSupervisor(groupId, engine, sink));
}
