using System.Globalization;

namespace CartRecovery.Load;

/// <summary>Command-line options of the load harness (see load/README.md).</summary>
public sealed record BenchOptions
{
    public int Shoppers { get; init; } = 30_000;
    /// <summary>Cap on the generated events (0 = all the shoppers produce), taken in emit order.</summary>
    public long Events { get; init; }
    /// <summary>Simulated span in which sessions start (the generator's Duration).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromHours(6);
    public int Seed { get; init; } = 42;
    public int Partitions { get; init; } = 6;
    /// <summary>How many times raw + end-to-end run on the same broker and topics; the table shows the median run.</summary>
    public int Repeat { get; init; } = 1;
    /// <summary>Event-time speed-up of the paced latency phase (event time runs this many times faster than the wall clock).</summary>
    public double Pace { get; init; } = 300;
    public int PacedShoppers { get; init; } = 3_000;
    public TimeSpan PacedDuration { get; init; } = TimeSpan.FromHours(1);
    /// <summary>Event-time window of the paced phase: session events later than its first one + this are not published.</summary>
    public TimeSpan PacedWindow { get; init; } = TimeSpan.FromHours(2);
    public bool SkipLatency { get; init; }
    /// <summary>Experiment knobs: the worker's WorkerSettings.MaxUndecidedBatches / MaxUnwrittenBatches / MaxBatchRecords (0 = the worker's default).</summary>
    public int MaxOutstanding { get; init; }
    public int MaxUnwritten { get; init; }
    public int MaxBatchRecords { get; init; }
    public int WaitingSessions { get; init; } = 100_000;
    /// <summary>Only the waiting-session measurements (heap probe and checkpoint curve): no broker, no worker.</summary>
    public bool WaitingOnly { get; init; }
    /// <summary>Waiting sessions held at each point of the checkpoint curve (empty: no curve).</summary>
    public IReadOnlyList<int> CurveHeld { get; init; } = [];
    public int CurveChanged { get; init; } = 1_000;
    public string? Data { get; init; }

    public const string Usage = """
        usage: cartrecovery-load [options]   (or ./run.sh bench [options], load/bench.sh [options])
          --shoppers N          simulated shoppers for the throughput runs (default 30000, ~10 events each)
          --events N            cap the generated input at N events (default: all)
          --duration D          simulated span of session starts: 6h, 90m, 1.5h (default 6h)
          --seed S              generator seed (default 42)
          --partitions N        partitions per topic (default 6)
          --repeat N            raw + end-to-end runs on the same topics; the table shows the median (default 1)
          --pace X              event-time speed-up of the paced latency phase (default 300)
          --paced-shoppers N    shoppers of the paced latency phase (default 3000)
          --paced-duration D    session-start span of the paced latency phase (default 1h)
          --paced-window D      event-time window of the paced phase that is published (default 2h)
          --skip-latency        skip the paced latency phase
          --max-outstanding N   experiment: the worker's MaxUndecidedBatches (default: the worker's default, 64)
          --max-unwritten N     experiment: the worker's MaxUnwrittenBatches (default: the worker's default, 256)
          --max-batch-records N experiment: the worker's MaxBatchRecords (default: the worker's default, 2000)
          --waiting-sessions N  sessions held for the heap measurement (default 100000)
          --waiting-only        only the heap measurement (and the checkpoint curve, if asked): no broker, no worker
          --curve N,N,...       the checkpoint curve: a partition holding N waiting sessions, delta and full checkpoints
                                (e.g. 10000,100000,1000000)
          --curve-changed N     shoppers changed per checkpoint interval in the curve (default 1000)
          --data DIR            chDB data directory (default: a temporary directory, removed afterwards)
        """;

    /// <summary>The worker's settings for a run, with the experiment knobs applied.</summary>
    public CartRecovery.Streaming.WorkerSettings Worker(string bootstrap, bool drain, string group, string dataDirectory)
    {
        var settings = new CartRecovery.Streaming.WorkerSettings
        {
            BootstrapServers = bootstrap, Drain = drain, GroupId = group,
            Checkpoints = CartRecovery.Host.Commands.WorkerRunner.CheckpointStore(dataDirectory, null, null),
        };
        if (MaxOutstanding > 0) settings = settings with { MaxUndecidedBatches = MaxOutstanding };
        if (MaxUnwritten > 0) settings = settings with { MaxUnwrittenBatches = MaxUnwritten };
        if (MaxBatchRecords > 0) settings = settings with { MaxBatchRecords = MaxBatchRecords };
        return settings;
    }

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--shoppers" => o with { Shoppers = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--shoppers") },
                "--events" => o with { Events = long.Parse(Next(), CultureInfo.InvariantCulture) },
                "--duration" => o with { Duration = ParseSpan(Next()) },
                "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--partitions" => o with { Partitions = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--partitions") },
                "--repeat" => o with { Repeat = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--repeat") },
                "--pace" => o with { Pace = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--paced-shoppers" => o with { PacedShoppers = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--paced-shoppers") },
                "--paced-duration" => o with { PacedDuration = ParseSpan(Next()) },
                "--paced-window" => o with { PacedWindow = ParseSpan(Next()) },
                "--skip-latency" => o with { SkipLatency = true },
                "--max-outstanding" => o with { MaxOutstanding = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--max-outstanding") },
                "--max-unwritten" => o with { MaxUnwritten = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--max-unwritten") },
                "--max-batch-records" => o with { MaxBatchRecords = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--max-batch-records") },
                "--waiting-sessions" => o with { WaitingSessions = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--waiting-sessions") },
                "--waiting-only" => o with { WaitingOnly = true },
                "--curve" => o with { CurveHeld = [.. Next().Split(',').Select(n => Positive(int.Parse(n, CultureInfo.InvariantCulture), "--curve"))] },
                "--curve-changed" => o with { CurveChanged = Positive(int.Parse(Next(), CultureInfo.InvariantCulture), "--curve-changed") },
                "--data" => o with { Data = Next() },
                var other => throw new ArgumentException($"unknown option {other}"),
            };
        }
        if (o.Pace <= 0) throw new ArgumentException("--pace must be > 0");
        return o;
    }

    private static int Positive(int value, string name) => value > 0 ? value : throw new ArgumentException($"{name} must be > 0");

    /// <summary>"6h", "90m", "45s", "1.5h", or a plain number of hours.</summary>
    public static TimeSpan ParseSpan(string text)
    {
        var unit = text[^1];
        var number = char.IsLetter(unit) ? text[..^1] : text;
        var value = double.Parse(number, CultureInfo.InvariantCulture);
        var span = unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'd' => TimeSpan.FromDays(value),
            _ => TimeSpan.FromHours(value),
        };
        return span > TimeSpan.Zero ? span : throw new ArgumentException($"duration must be > 0 (got {text})");
    }
}
