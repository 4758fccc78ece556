using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using CartRecovery.Host;
using CartRecovery.Traffic;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// An upstream producer stops, the live worker sits idle, then the producer delivers its backlog. With the default
/// idle watermark (follow) the pause moves no partition past what the input has shown, so the backlog is on time and
/// the decisions are those of a drain of the same input. Black box: broker and workers are CLI processes.
/// </summary>
[Collection("processes")]
public sealed partial class BacklogTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-backlog-");

    private string Dir(string name) => Path.Combine(_root.FullName, name);

    [Fact]
    public async Task A_producer_pause_followed_by_a_backlog_gives_the_drain_runs_decisions()
    {
        using var broker = new BrokerProcess(partitions: 6);
        var settings = new SimulationSettings { Shoppers = 2_000, Seed = 31 };
        var events = StorefrontSimulator.Generate(settings).ToList();
        // The producer stops half way through the simulated day (weeks before the wall clock) and resumes later.
        var pause = settings.Start + settings.Duration / 2;
        var beforePause = events.Where(e => e.Event.EventTime < pause).ToList();
        var backlog = events.Where(e => e.Event.EventTime >= pause).ToList();
        CartRecovery.Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();
        TrafficPublisher.Publish(broker.Bootstrap, beforePause);

        var port = FreePort();
        using var live = Cli.Start("worker", "--bootstrap", broker.Bootstrap, "--group", "live", "--data", Dir("live"), "--http-port", port.ToString());
        var log = new SynchronizedLog();
        live.OutputDataReceived += (_, e) => log.Add(e.Data);
        live.ErrorDataReceived += (_, e) => log.Add(e.Data);
        live.BeginOutputReadLine();
        live.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        // Caught up with everything before the pause, and idle long enough for the idle watermark to move.
        await WaitForAsync(async () => await MetricAsync(http, port, "cartrecovery_events_consumed") == beforePause.Count &&
            await MetricAsync(http, port, "cartrecovery_idle_watermark_advances") > 0, live, log);
        output.WriteLine($"paused after {beforePause.Count} events; idle watermark moves: {await MetricAsync(http, port, "cartrecovery_idle_watermark_advances")}");

        var publishClock = Stopwatch.StartNew();
        TrafficPublisher.Publish(broker.Bootstrap, backlog);
        output.WriteLine($"backlog of {backlog.Count} events published in {publishClock.Elapsed.TotalSeconds:F1} s");
        await WaitForAsync(async () => await MetricAsync(http, port, "cartrecovery_events_consumed") == events.Count, live, log);
        // Caught up: the lag the worker reports per partition (from the input topics' high watermarks) is 0 everywhere.
        await WaitForAsync(async () => await MetricAsync(http, port, "cartrecovery_consumer_lag") == 0, live, log);
        output.WriteLine($"late events in the live run: {await MetricAsync(http, port, "cartrecovery_late_events")} (the snapshot below compares their audit rows with the drain's)");

        // The live worker stops (SIGTERM: checkpoint and commit); a drain of the same group finishes end of input.
        Process.Start("kill", ["-TERM", live.Id.ToString()])!.WaitForExit();
        Assert.True(live.WaitForExit(TimeSpan.FromMinutes(2)), $"the live worker did not stop:\n{log}");
        live.WaitForExit();
        Assert.True(live.ExitCode == 0, $"live worker exit {live.ExitCode}:\n{log}");
        var finish = await Cli.RunAsync(TimeSpan.FromMinutes(5), "worker", "--bootstrap", broker.Bootstrap, "--group", "live", "--data", Dir("live"), "--drain");
        Assert.True(finish.ExitCode == 0, finish.ToString());

        var reference = await Cli.RunAsync(TimeSpan.FromMinutes(5), "worker", "--bootstrap", broker.Bootstrap, "--group", "reference", "--data", Dir("reference"), "--drain");
        Assert.True(reference.ExitCode == 0, reference.ToString());
        var expected = await PipelineSnapshot.ReadAsync(Dir("reference"));
        Assert.True(expected.Triggers.Count > 100, "the input must hold reminders to compare");
        const string byKind = "SELECT kind, step, count() FROM recovery_triggers FINAL GROUP BY kind, step ORDER BY kind, step";
        const string byDecision = "SELECT decision, reason, count() FROM audit_log FINAL GROUP BY decision, reason ORDER BY decision, reason";
        output.WriteLine($"drain:\n{await Cli.QueryTsvAsync(Dir("reference"), byKind)}{await Cli.QueryTsvAsync(Dir("reference"), byDecision)}");
        output.WriteLine($"live, paused, backlog, then drained:\n{await Cli.QueryTsvAsync(Dir("live"), byKind)}{await Cli.QueryTsvAsync(Dir("live"), byDecision)}");
        (await PipelineSnapshot.ReadAsync(Dir("live"))).AssertSameAs(expected);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, Process worker, SynchronizedLog log)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.False(worker.HasExited, $"the live worker exited {(worker.HasExited ? worker.ExitCode : 0)}:\n{log}");
            if (clock.Elapsed > TimeSpan.FromMinutes(4)) throw new TimeoutException($"the live worker did not get there:\n{log}");
            await Task.Delay(200);
        }
    }

    /// <summary>Sum of a metric over its labels on the worker's Prometheus endpoint; -1 while it is not exported.</summary>
    private static async Task<long> MetricAsync(HttpClient http, int port, string name)
    {
        string text;
        try
        {
            text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        }
        catch (HttpRequestException)
        {
            return -1;
        }
        var values = MetricLine().Matches(text).Where(m => m.Groups["name"].Value == name).Select(m => (long)double.Parse(m.Groups["value"].Value)).ToList();
        return values.Count == 0 ? -1 : values.Sum();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+?)(_total)?(\{[^}]*\})? (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    public void Dispose()
    {
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}
