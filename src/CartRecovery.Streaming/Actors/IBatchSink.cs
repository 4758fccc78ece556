using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>Where a partition actor hands a completed batch: the output writer in the worker, a probe in tests.</summary>
public interface IBatchSink
{
    void Complete(BatchCompleted batch);

    /// <summary>Reply <see cref="OutputsDurable"/> to <paramref name="replyTo"/> once every batch completed before is
    /// written. It answers the partition's <see cref="Checkpoint"/> command of the same sequence.</summary>
    void WhenDurable(int partition, long sequence, Akka.Actor.IActorRef replyTo);

    /// <summary>A checkpoint is saved: its offsets may be committed to Kafka. It answers <paramref name="requests"/>
    /// checkpoint requests (a newer capture supersedes older ones that were not saved yet).</summary>
    void Checkpointed(CheckpointSaved saved, int requests, int bytes, TimeSpan duration);

    /// <summary>A checkpoint could not be saved: the worker must stop rather than commit.</summary>
    void CheckpointFailed(int partition, Exception cause);

    /// <summary>A partition actor failed outside one event's decision (a runtime bug): the worker must stop, with the cause.</summary>
    void PartitionFailed(Exception cause);
}
