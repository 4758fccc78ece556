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
    private readonly IPartitionReports _sink;
    private long _incarnation;

    public PartitionSupervisor(string groupId, RecoveryEngine engine, IPartitionReports sink)
    {
        _sink = sink;
        IActorRef Child(int partition)
        {
            if (_children.TryGetValue(partition, out var child)) return child;
            // A fresh name per incarnation: a revoked partition's old actor may still be stopping when it comes back.
            child = Context.ActorOf(PartitionActor.Props(groupId, partition, engine, sink), $"partition-{partition}-{++_incarnation}");
            _children[partition] = child;
            return child;
        }

        // Forwarded, not told: the sender stays the pipeline's ask, which the partition actor answers directly.
        Receive<ProcessBatch>(msg => Child(msg.Partition).Forward(msg));
        Receive<AdvanceIdle>(msg => Child(msg.Partition).Forward(msg));
        Receive<Drain>(msg => Child(msg.Partition).Forward(msg));
        Receive<Checkpoint>(msg => Child(msg.Partition).Forward(msg));
        Receive<RestorePartition>(msg => Child(msg.Partition).Forward(msg));
        Receive<ReportStall>(msg =>
        {
            foreach (var child in _children.Values) child.Tell(msg);
        });
        Receive<ForgetPartition>(msg =>
        {
            if (_children.Remove(msg.Partition, out var child)) Context.Stop(child);
        });
    }

    /// <summary>A partition actor that throws (outside one event's decision, which its own supervision dead-letters) has
    /// lost track of its batch: restarting it would recover the last checkpoint while the ingest waits forever for the
    /// batch. So it is stopped and the worker told to stop with the cause; the next owner replays from the checkpoint.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(cause =>
    {
        _sink.PartitionFailed(cause);
        return Directive.Stop;
    }));

    public static Props Props(string groupId, RecoveryEngine engine, IPartitionReports sink) =>
        Akka.Actor.Props.Create(() => new PartitionSupervisor(groupId, engine, sink));
}
