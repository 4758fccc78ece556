namespace CartRecovery.Streaming;

/// <summary>What /healthz and /readyz report: live unless the worker failed; ready while it owns restored partitions
/// and reaches a broker, until it stops.</summary>
public sealed class WorkerHealth
{
    /// <summary>A broker unreachable this long turns the worker not-ready (a reconnect within it is routine).</summary>
    public static readonly TimeSpan UnreachableAfter = TimeSpan.FromSeconds(5);

    private volatile bool _assigned;
    private volatile bool _stopping;
    private volatile Exception? _failure;
    private Func<DateTimeOffset?> _brokerDownSince = () => null;
    private TimeProvider _clock = TimeProvider.System;

    public bool IsLive => _failure is null;
    public bool IsReady => _assigned && !_stopping && _failure is null && !BrokerUnreachable;
    public string Status => _failure is not null ? "failed" : _stopping ? "stopping" : BrokerUnreachable ? "broker unreachable"
        : _assigned ? "ready" : "starting";

    private bool BrokerUnreachable => _brokerDownSince() is { } since && _clock.GetUtcNow() - since >= UnreachableAfter;

    public void PartitionsRestored() => _assigned = true;
    /// <summary>Every partition was revoked or lost: not ready until partitions are assigned and restored again.</summary>
    public void NoPartitions() => _assigned = false;
    public void Stopping() => _stopping = true;
    public void Failed(Exception failure) => _failure ??= failure;

    /// <summary>Where the broker's reachability is read from (<see cref="Ingest.BrokerWatch"/>).</summary>
    public void WatchBroker(Func<DateTimeOffset?> downSince, TimeProvider clock)
    {
        _brokerDownSince = downSince;
        _clock = clock;
    }
}
