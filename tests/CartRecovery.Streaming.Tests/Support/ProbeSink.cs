using Akka.Actor;
using CartRecovery.Streaming.Actors;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Support;

/// <summary>Stands in for the output writer in actor specs: everything is durable at once, and what the partition
/// actor reports (completed batches, saved checkpoints, failures) goes to the test probe.</summary>
public sealed class ProbeSink(IActorRef probe) : IBatchSink
{
    public void Complete(BatchCompleted batch) => probe.Tell(batch);
    public void WhenDurable(int partition, long sequence, IActorRef replyTo) => replyTo.Tell(new OutputsDurable(sequence));
    public void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration) => probe.Tell(saved);
    public void CheckpointFailed(int partition, Exception cause) => probe.Tell(cause);
    public void PartitionFailed(Exception cause) => probe.Tell(cause);
}
