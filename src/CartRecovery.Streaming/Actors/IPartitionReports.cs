using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>What a partition actor reports that no command of the pipeline awaits: the worker's pipeline, a probe in
/// tests. (A command's own answer, a decided batch or a checkpoint's <see cref="DurabilityRequest"/>, goes back to the
/// command's sender, the pipeline's ask.)</summary>
public interface IPartitionReports
{
    /// <summary>A checkpoint is saved: its offsets may be committed to Kafka. It answers <paramref name="requests"/>
    /// checkpoint requests (a newer capture supersedes older ones that were not saved yet).</summary>
    void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration);

    /// <summary>A checkpoint could not be saved: the worker must stop rather than commit.</summary>
    void CheckpointFailed(int partition, Exception cause);

    /// <summary>A partition actor failed outside one event's decision (a runtime bug): the worker must stop, with the cause.</summary>
    void PartitionFailed(Exception cause);
}
