using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Sums the GCAllocationTick events (one per ~100 KB allocated, with its stack) of a gc-verbose trace over the worker's
// window (first to last tick whose stack holds KafkaIngest.Loop or a PartitionActor frame): by type, by CartRecovery
// frame on the stack (inclusive), and by type at the innermost CartRecovery frame; with --stages FILE (load/profile/stages.tsv,
// shared with cpu_top.py), by stage of the budget table and per event when --events N gives the events of the run.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: AllocTop <trace.nettrace> [N] [--stages load/profile/stages.tsv] [--events N]");
    return 2;
}
var top = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40;
var stageFile = Option("--stages");
var events = Option("--events") is { } n ? long.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 0;
var rules = stageFile is null ? [] : File.ReadLines(stageFile).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')).Select(p => (Stage: p[0], Pattern: p[1])).ToList();
var byStage = new Dictionary<string, long>();
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));

double from = double.MaxValue, to = 0;
foreach (var tick in Ticks(log))
    if (Frames(tick).Any(n => n.Contains("KafkaIngest.Loop", StringComparison.Ordinal) || n.Contains("PartitionActor", StringComparison.Ordinal)))
        (from, to) = (Math.Min(from, tick.TimeStampRelativeMSec), Math.Max(to, tick.TimeStampRelativeMSec));

var byType = new Dictionary<string, long>();
var byFrame = new Dictionary<string, long>();
var byTypeAtFrame = new Dictionary<string, long>();
long total = 0;
foreach (var tick in Ticks(log))
{
    if (tick.TimeStampRelativeMSec < from || tick.TimeStampRelativeMSec > to) continue;
    var bytes = tick.AllocationAmount64;
    total += bytes;
    Add(byType, tick.TypeName, bytes);
    var own = Frames(tick).Where(n => n.StartsWith("CartRecovery", StringComparison.Ordinal)).ToList();
    foreach (var frame in own.Distinct()) Add(byFrame, frame, bytes);
    Add(byTypeAtFrame, $"{tick.TypeName}  @  {own.FirstOrDefault() ?? "(no CartRecovery frame)"}", bytes);
    if (rules.Count > 0)
    {
        var stack = Frames(tick).ToList();
        Add(byStage, rules.FirstOrDefault(r => stack.Any(f => f.Contains(r.Pattern, StringComparison.Ordinal))).Stage ?? "other", bytes);
    }
}

Console.WriteLine($"worker window {to - from:N0} ms, sampled bytes {total:N0}");
Print("by type", byType);
Print("by CartRecovery frame (inclusive)", byFrame);
Print("type @ innermost CartRecovery frame", byTypeAtFrame);
if (rules.Count > 0)
{
    Console.WriteLine("--- by stage (share of sampled bytes" + (events > 0 ? "; bytes per event: the sampled bytes are an estimate of all bytes" : "") + ")");
    foreach (var (stage, bytes) in byStage.OrderByDescending(s => s.Value))
        Console.WriteLine(events > 0 ? $"{stage}\t{100.0 * bytes / total:0.0}\t{bytes / (double)events:0}" : $"{stage}\t{100.0 * bytes / total:0.0}");
}
return 0;

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

// TraceEvents implements only the generic enumerator (OfType would use the other).
static IEnumerable<GCAllocationTickTraceData> Ticks(TraceLog log)
{
    foreach (var traceEvent in log.Events)
        if (traceEvent is GCAllocationTickTraceData tick) yield return tick;
}

static IEnumerable<string> Frames(GCAllocationTickTraceData tick)
{
    for (var frame = tick.CallStack(); frame is not null; frame = frame.Caller)
        yield return frame.CodeAddress.FullMethodName ?? "";
}

static void Add(Dictionary<string, long> sums, string key, long bytes) => sums[key] = sums.GetValueOrDefault(key) + bytes;

void Print(string title, Dictionary<string, long> sums)
{
    Console.WriteLine($"--- {title}");
    foreach (var (key, bytes) in sums.OrderByDescending(s => s.Value).Take(top))
        Console.WriteLine($"{100.0 * bytes / total,5:0.0}%  {key[..Math.Min(key.Length, 170)]}");
}
