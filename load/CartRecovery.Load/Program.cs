using System.Globalization;
using System.Runtime;
using CartRecovery.Contracts.Events;
using CartRecovery.Host;
using CartRecovery.Host.Commands;
using CartRecovery.Load;
using CartRecovery.Streaming;
using CartRecovery.Traffic;
using HdrHistogram;

// The load harness of issue "Performance" (load/README.md, docs/performance.md): in one process, on one embedded
// broker and the same generated input, the raw consume ceiling and the worker end to end (drain mode), then a
// paced live phase for trigger latencies, then the heap per waiting session. Last line is machine-readable.

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
BenchOptions options;
try { options = BenchOptions.Parse(args); }
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"bench: {e.Message}\n{BenchOptions.Usage}");
    return 2;
}

var inv = CultureInfo.InvariantCulture;
if (options.WaitingOnly)
{
    // The waiting-session measurements alone (issue 22): the partition's stores and checkpoint path, no broker.
    var held = HeapProbe.Run(options.WaitingSessions);
    Console.WriteLine(HeapRow(held));
    Console.WriteLine(SnapshotRow(held));
    Curve();
    Console.WriteLine(string.Create(inv, $"bench: heap_bytes_per_waiting_session={held.BytesPerSession:F0} snapshot_bytes_per_waiting_session={(double)held.SnapshotBytes / held.Sessions:F0}"));
    return 0;
}
var ownData = options.Data is null;
var data = options.Data ?? Path.Combine(Path.GetTempPath(), $"cartrecovery-bench-{Environment.ProcessId}");
var defaults = options.Worker("-", drain: true, "-", data);
Console.WriteLine($"bench: worker MaxUndecidedBatches={defaults.MaxUndecidedBatches} MaxUnwrittenBatches={defaults.MaxUnwrittenBatches} MaxBatchRecords={defaults.MaxBatchRecords}");
Console.WriteLine($"bench: {Environment.ProcessorCount} cores, .NET {Environment.Version}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC " +
                  $"({GCSettings.LatencyMode}), data {data}");

try
{
    // ---------------------------------------------------------------- input
    var generated = StorefrontSimulator.Generate(new SimulationSettings { Shoppers = options.Shoppers, Seed = options.Seed, Duration = options.Duration });
    var events = options.Events > 0 ? generated.Take((int)Math.Min(options.Events, generated.Count)).ToList() : generated.ToList();
    if (options.Events > generated.Count)
        Console.WriteLine($"bench: --events {options.Events} > the {generated.Count} events {options.Shoppers} shoppers produce; raise --shoppers");
    var sessionTimes = events.Where(e => e.Event is not ConsentEvent).Select(e => e.Event.EventTime).ToList();
    var span = sessionTimes.Count > 0 ? sessionTimes.Max() - sessionTimes.Min() : TimeSpan.Zero;

    using var broker = EmbeddedBroker.Start(options.Partitions);
    var publishProbe = ProcessProbe.Start();
    var published = TrafficPublisher.Publish(broker.BootstrapServers, events);
    var publish = publishProbe.Stop();
    Console.WriteLine($"bench: published {published:N0} events ({options.Shoppers:N0} shoppers, seed {options.Seed}, event-time span {span.TotalHours:F1} h) " +
                      $"in {publish.Wall.TotalSeconds:F1} s ({published / publish.Wall.TotalSeconds:N0}/s)");

    // ---------------------------------------------------------------- raw ceiling and end to end, side by side
    var runs = new List<(RawRun Raw, WorkerRun Worker, ProcessSample E2e, IReadOnlyList<SinkFlush> Flushes, (IReadOnlyList<double> Bytes, IReadOnlyList<double> Ms) Checkpoints)>();
    for (var r = 1; r <= options.Repeat; r++)
    {
        GC.Collect();
        var raw = RawConsumer.Run(broker.BootstrapServers, options.Partitions, published);
        GC.Collect();
        using var sink = new SinkObserver();
        var probe = ProcessProbe.Start();
        var worker = await WorkerRunner.RunAsync(options.Worker(broker.BootstrapServers, drain: true, $"bench-e2e-{Guid.NewGuid():N}", data),
            null, data, CancellationToken.None, progress: $"bench run {r}", expectedEvents: published);
        var sample = probe.Stop();
        runs.Add((raw, worker, sample, sink.Flushes, sink.Checkpoints));
        Console.WriteLine(string.Create(inv, $"bench: run {r}: raw {raw.RecordsPerSecond:N0} events/s, e2e {worker.EventsConsumed / worker.Elapsed.TotalSeconds:N0} events/s " +
                          $"({worker.EventsConsumed:N0} events in {worker.Elapsed.TotalSeconds:F2} s)"));
    }
    var median = runs.OrderBy(x => x.Worker.EventsConsumed / x.Worker.Elapsed.TotalSeconds).ElementAt(runs.Count / 2);

    // ---------------------------------------------------------------- latency (paced live replay)
    LatencyRun? latency = null;
    if (!options.SkipLatency)
    {
        GC.Collect();
        latency = await PacedLatency.RunAsync(options, data, Console.Out);
    }

    // ---------------------------------------------------------------- heap per waiting session
    var heap = HeapProbe.Run(options.WaitingSessions);

    // ---------------------------------------------------------------- report
    var (rawRun, workerRun, e2e, flushes, checkpoints) = median;
    var e2eRate = workerRun.EventsConsumed / workerRun.Elapsed.TotalSeconds;
    var rawRate = rawRun.RecordsPerSecond;
    var ratio = e2eRate / rawRate;
    var replay = span.TotalSeconds / workerRun.Elapsed.TotalSeconds;
    double P(HistogramBase h, double q) => h.TotalCount == 0 ? double.NaN : h.GetValueAtPercentile(q) / 1000.0;
    double Max(HistogramBase h) => h.TotalCount == 0 ? double.NaN : h.GetMaxValue() / 1000.0;
    string Ms(double v) => double.IsNaN(v) ? "n/a" : v.ToString("N0", inv) + " ms";
    string Pct(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? "n/a" : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q / 100 * sorted.Count) - 1)].ToString("N0", inv);
    }
    string Verdict(bool met, string miss) => met ? "met" : "MISSED " + miss;

    var rows = new List<(string Metric, string Value, string Target)>
    {
        ("input events / shoppers / event-time span", $"{published:N0} / {options.Shoppers:N0} / {span.TotalHours:F1} h", ""),
        ("raw consume (Assign, no work)", $"{rawRate:N0} events/s, CPU {rawRun.Process.CpuPercentOfOneCore:F0} % of a core", ""),
        ("end to end (drain, chDB + Kafka out)", $"{e2eRate:N0} events/s ({workerRun.Elapsed.TotalSeconds:F2} s; host start/stop {(e2e.Wall - workerRun.Elapsed).TotalSeconds:F2} s more)",
            $">= 150,000: {Verdict(e2eRate >= 150_000, $"by {150_000 - e2eRate:N0}/s ({e2eRate / 150_000:P0} of target)")}"),
        ("ratio e2e / raw", ratio.ToString("F3", inv), $">= 0.7: {Verdict(ratio >= 0.7, $"({ratio / 0.7:P0} of target)")}"),
        ("CPU e2e (process, all threads)", $"{e2e.CpuPercentOfOneCore:F0} % of one core = {e2e.CpuPercentOfMachine:F0} % of {Environment.ProcessorCount} cores", ""),
        ("allocations e2e", $"{e2e.AllocatedBytes / (double)workerRun.EventsConsumed:N0} B/event; GC gen0/1/2 {e2e.Gen0}/{e2e.Gen1}/{e2e.Gen2}, pause {e2e.GcPausePercent:F1} % of wall",
            $"<= 1,024 B/event: {Verdict(e2e.AllocatedBytes / (double)workerRun.EventsConsumed <= 1024, $"by {e2e.AllocatedBytes / (double)workerRun.EventsConsumed - 1024:N0} B")}"),
        ("thread-pool work items e2e", $"{e2e.ThreadPoolItems / (double)workerRun.EventsConsumed:F2} per event", ""),
        ("sink flushes (drain run)", $"{flushes.Count} flushes, rows/flush p50 {Pct(flushes.Select(f => (double)f.Rows), 50)} max {Pct(flushes.Select(f => (double)f.Rows), 100)}, " +
            $"batches/flush p50 {Pct(flushes.Select(f => (double)f.Batches), 50)}, events/flush p50 {Pct(flushes.Select(f => (double)f.Events), 50)}", ""),
        ("sink flush duration (drain run, observed)", $"p50 {Pct(flushes.Select(f => f.DurationMs), 50)} ms, p99 {Pct(flushes.Select(f => f.DurationMs), 99)} ms, max {Pct(flushes.Select(f => f.DurationMs), 100)} ms", ""),
        ("checkpoints (drain run)", checkpoints.Bytes.Count == 0 ? "none saved" :
            $"{checkpoints.Bytes.Count} saved; size p50 {Pct(checkpoints.Bytes.Select(b => b / 1024), 50)} KiB max {Pct(checkpoints.Bytes.Select(b => b / 1024), 100)} KiB; " +
            $"capture to saved p50 {Pct(checkpoints.Ms, 50)} ms p99 {Pct(checkpoints.Ms, 99)} ms", ""),
        ("replay speed", $"{replay:N0} x real time ({span.TotalHours:F1} h of event time in {workerRun.Elapsed.TotalSeconds:F2} s)",
            $">= 100 x: {Verdict(replay >= 100, $"({replay / 100:P0} of target)")}"),
    };
    if (latency is { } l)
    {
        rows.Add(("latency phase input", $"{l.Published:N0} events at {l.Pace:G} x real time = {l.InputEventsPerSecond:N0} events/s for {l.PublishWall.TotalSeconds:F0} s", ""));
        rows.Add(("timer trigger lag after deadline", $"p50 {Ms(P(l.TimerLagMicros, 50))}, p99 {Ms(P(l.TimerLagMicros, 99))}, max {Ms(Max(l.TimerLagMicros))} " +
            $"({l.TimerLagMicros.TotalCount} reminders; {l.TimerUnmatched} due only at end of input)",
            $"p99 <= 1,000 ms: {(l.TimerLagMicros.TotalCount == 0 ? "n/a" : Verdict(P(l.TimerLagMicros, 99) <= 1000, $"by {P(l.TimerLagMicros, 99) - 1000:N0} ms"))}"));
        rows.Add(("proactive chat latency", $"p50 {Ms(P(l.ChatLagMicros, 50))}, p99 {Ms(P(l.ChatLagMicros, 99))}, max {Ms(Max(l.ChatLagMicros))} " +
            $"({l.ChatLagMicros.TotalCount} chats; {l.ChatUnmatched} unmatched)",
            $"p99 <= 200 ms: {(l.ChatLagMicros.TotalCount == 0 ? "n/a" : Verdict(P(l.ChatLagMicros, 99) <= 200, $"by {P(l.ChatLagMicros, 99) - 200:N0} ms"))}"));
        // The promo-code chat has the payment failure's target (issue 23): its own row, from the same histogram kind.
        rows.Add(("  of which promo-code chats", $"p50 {Ms(P(l.PromoChatLagMicros, 50))}, p99 {Ms(P(l.PromoChatLagMicros, 99))}, max {Ms(Max(l.PromoChatLagMicros))} " +
            $"({l.PromoChatLagMicros.TotalCount} chats)",
            $"p99 <= 200 ms: {(l.PromoChatLagMicros.TotalCount == 0 ? "n/a" : Verdict(P(l.PromoChatLagMicros, 99) <= 200, $"by {P(l.PromoChatLagMicros, 99) - 200:N0} ms"))}"));
        rows.Add(("sink flushes (latency phase)", $"{l.Flushes.Count} flushes, rows/flush p50 {Pct(l.Flushes.Select(f => (double)f.Rows), 50)}, " +
            $"duration p50 {Pct(l.Flushes.Select(f => f.DurationMs), 50)} ms p99 {Pct(l.Flushes.Select(f => f.DurationMs), 99)} ms", ""));
    }
    rows.Add(("heap per waiting session", HeapRow(heap), $"<= 1,024 B: {Verdict(heap.BytesPerSession <= 1024, $"by {heap.BytesPerSession - 1024:N0} B ({heap.BytesPerSession / 1024:F1} x)")}"));
    rows.Add(("full snapshot of the waiting sessions", SnapshotRow(heap), ""));
    rows.Add(("  the same in the JSON of earlier releases", $"{heap.JsonSnapshotBytes / 1024.0:N0} KiB = {(double)heap.JsonSnapshotBytes / heap.Sessions:N0} B per waiting session, " +
        $"serialised in {heap.JsonSnapshotMs:N0} ms, read in {heap.JsonSnapshotDecodeMs:N0} ms", ""));

    var w1 = rows.Max(r => r.Metric.Length);
    Console.WriteLine();
    Console.WriteLine($"== CartRecovery bench (median of {runs.Count} run{(runs.Count > 1 ? "s" : "")} by e2e events/s) ==");
    foreach (var (metric, value, target) in rows)
        Console.WriteLine($"{metric.PadRight(w1)}  {value}{(target.Length > 0 ? "   [" + target + "]" : "")}");
    var p99Timer = latency is null || latency.TimerLagMicros.TotalCount == 0 ? -1 : P(latency.TimerLagMicros, 99);
    var p99Chat = latency is null || latency.ChatLagMicros.TotalCount == 0 ? -1 : P(latency.ChatLagMicros, 99);
    var p99PromoChat = latency is null || latency.PromoChatLagMicros.TotalCount == 0 ? -1 : P(latency.PromoChatLagMicros, 99);
    var allocPerEvent = e2e.AllocatedBytes / (double)workerRun.EventsConsumed;
    // Bytes written to the checkpoint store per second of the drain run: how checkpoint cost follows the work.
    var checkpointBytesPerSecond = checkpoints.Bytes.Sum() / workerRun.Elapsed.TotalSeconds;
    Curve();
    Console.WriteLine(string.Create(inv,
        $"bench: e2e_events_per_s={e2eRate:F0} raw_events_per_s={rawRate:F0} ratio={ratio:F2} p99_timer_lag_ms={p99Timer:F0} p99_chat_ms={p99Chat:F0} heap_bytes_per_waiting_session={heap.BytesPerSession:F0} replay_x={replay:F0} alloc_bytes_per_event={allocPerEvent:F0} checkpoint_bytes_per_s={checkpointBytesPerSecond:F0} snapshot_bytes_per_waiting_session={(double)heap.SnapshotBytes / heap.Sessions:F0} p99_promo_chat_ms={p99PromoChat:F0}"));
    return 0;
}
finally
{
    if (ownData && Directory.Exists(data))
        try { Directory.Delete(data, recursive: true); } catch (IOException) { }
}

string HeapRow(HeapRun heap) => string.Create(CultureInfo.InvariantCulture,
    $"{heap.BytesPerSession:N0} B per waiting session in the partition's stores (of which encoded: session {(double)heap.EncodedSessionBytes / heap.Sessions:N0} B, " +
    $"shopper {(double)heap.EncodedShopperBytes / heap.Sessions:N0} B; {heap.Sessions:N0} sessions; 1M would take {heap.BytesPerSession * 1e6 / (1 << 30):F2} GiB)");

string SnapshotRow(HeapRun heap) => string.Create(CultureInfo.InvariantCulture,
    $"{heap.SnapshotBytes / 1024.0:N0} KiB = {(double)heap.SnapshotBytes / heap.Sessions:N0} B per waiting session; first {heap.FirstSnapshotMs:N0} ms " +
    $"(encodes the shoppers), next {heap.SnapshotMs:N0} ms (copies held bytes), read in {heap.SnapshotDecodeMs:N0} ms");

void Curve()
{
    if (options.CurveHeld.Count == 0) return;
    var points = new List<CurvePoint>();
    foreach (var held in options.CurveHeld)
    {
        GC.Collect();
        points.Add(CheckpointCurve.Run(held, options.CurveChanged, intervals: 5));
        Console.WriteLine($"bench: curve point {held:N0} held done");
    }
    CheckpointCurve.Print(points, Console.Out);
}
