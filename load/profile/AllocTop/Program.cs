using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Sums the GCAllocationTick events (one per ~100 KB allocated, with its stack) of a gc-verbose trace over the worker's
// window (first to last tick whose stack holds KafkaIngest.Loop or a PartitionActor frame): by type, by CartRecovery
// frame on the stack (inclusive), and by type at the innermost CartRecovery frame.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: AllocTop <trace.nettrace> [N]");
    return 2;
}
var top = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40;
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
}

Console.WriteLine($"worker window {to - from:N0} ms, sampled bytes {total:N0}");
Print("by type", byType);
Print("by CartRecovery frame (inclusive)", byFrame);
Print("type @ innermost CartRecovery frame", byTypeAtFrame);
return 0;

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
