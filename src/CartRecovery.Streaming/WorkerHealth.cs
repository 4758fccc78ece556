namespace CartRecovery.Streaming;

/// <summary>What /healthz and /readyz report: live unless the worker failed; ready once it owns and has
/// restored its partitions, until it stops.</summary>
public sealed class WorkerHealth
{
    private volatile bool _assigned;
    private volatile bool _stopping;
    private volatile Exception? _failure;

    public bool IsLive => _failure is null;
    public bool IsReady => _assigned && !_stopping && _failure is null;
    public string Status => _failure is not null ? "failed" : _stopping ? "stopping" : _assigned ? "ready" : "starting";

    public void PartitionsRestored() => _assigned = true;
    public void Stopping() => _stopping = true;
    public void Failed(Exception failure) => _failure = failure;
}
