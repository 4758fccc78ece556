using Akka.Actor;
using Akka.TestKit;
using CartRecovery.Streaming.Actors;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Support;

/// <summary>
/// Makes a test probe (or a test kit's test actor) stand in for the pipeline in actor specs. What the partition actor
/// reports outside a command's answer (saved checkpoints, failures) goes to the probe. A command's answer (a completed
/// batch, a checkpoint's durability request) goes to the command's sender, so commands are sent from the probe; every
/// output is durable at once here, so the probe answers a <see cref="DurabilityRequest"/> with
/// <see cref="OutputsDurable"/> as it arrives (an autopilot) and keeps it out of the messages the test expects.
/// </summary>
public sealed class ProbeSink : IPartitionReports
{
    private readonly IActorRef _probe;

    public ProbeSink(IActorRef probe)
    {
        _probe = probe;
        probe.Tell(new TestActor.SetIgnore(message => message is DurabilityRequest));
        probe.Tell(new TestActor.SetAutoPilot(new DelegateAutoPilot((_, message) =>
        {
            if (message is DurabilityRequest request) request.Checkpointer.Tell(new OutputsDurable(request.Sequence));
            return AutoPilot.KeepRunning;
        })));
    }

    public void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration) => _probe.Tell(saved);
    public void CheckpointFailed(int partition, Exception cause) => _probe.Tell(cause);
    public void PartitionFailed(Exception cause) => _probe.Tell(cause);
}
