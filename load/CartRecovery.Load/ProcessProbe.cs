using System.Diagnostics;

namespace CartRecovery.Load;

/// <summary>Process-wide CPU, GC and thread-pool figures over one phase (start/stop snapshots, read in-process:
/// Process.TotalProcessorTime covers every thread, librdkafka's and chDB's native threads included).</summary>
public sealed record ProcessSample(TimeSpan Wall, TimeSpan Cpu, long AllocatedBytes, int Gen0, int Gen1, int Gen2, TimeSpan GcPause,
    long ThreadPoolItems, long PeakWorkingSet)
{
    /// <summary>CPU time over wall time: 100 % = one core busy; this machine has <see cref="Environment.ProcessorCount"/>.</summary>
    public double CpuPercentOfOneCore => Wall.TotalSeconds > 0 ? 100 * Cpu.TotalSeconds / Wall.TotalSeconds : 0;
    public double CpuPercentOfMachine => CpuPercentOfOneCore / Environment.ProcessorCount;
    public double GcPausePercent => Wall.TotalMilliseconds > 0 ? 100 * GcPause.TotalMilliseconds / Wall.TotalMilliseconds : 0;
}

public sealed class ProcessProbe
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan _cpu;
    private readonly long _allocated;
    private readonly int _g0, _g1, _g2;
    private readonly TimeSpan _pause;
    private readonly long _items;

    private ProcessProbe()
    {
        using var p = Process.GetCurrentProcess();
        _cpu = p.TotalProcessorTime;
        _allocated = GC.GetTotalAllocatedBytes(precise: false);
        (_g0, _g1, _g2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        _pause = GC.GetTotalPauseDuration();
        _items = ThreadPool.CompletedWorkItemCount;
    }

    public static ProcessProbe Start() => new();

    public ProcessSample Stop()
    {
        var wall = _clock.Elapsed;
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return new ProcessSample(wall, p.TotalProcessorTime - _cpu, GC.GetTotalAllocatedBytes(precise: false) - _allocated,
            GC.CollectionCount(0) - _g0, GC.CollectionCount(1) - _g1, GC.CollectionCount(2) - _g2, GC.GetTotalPauseDuration() - _pause,
            ThreadPool.CompletedWorkItemCount - _items, p.PeakWorkingSet64);
    }
}
