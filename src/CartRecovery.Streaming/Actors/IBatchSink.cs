using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Actors;

/// <summary>Where a partition actor hands a completed batch: the output writer in the worker, a probe in tests.</summary>
public interface IBatchSink
{
    void Complete(BatchCompleted batch);
}
