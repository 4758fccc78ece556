using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Faults end visibly (issue 21): a lost checkpoint store, a broker that dies under a drain and a runtime failure each
/// stop the worker with their cause and a runtime exit code (3), distinct from configuration errors (2). Black box: the
/// broker and the worker are processes of the CLI; the broker dies by SIGKILL.
/// </summary>
[Collection("processes")]
public sealed partial class FaultExitTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-faults-");
    private readonly List<Process> _workers = [];

    private string Dir(string name) => Path.Combine(_root.FullName, name);

    [Fact]
    public async Task A_lost_checkpoint_store_with_committed_offsets_stops_the_worker_and_start_over_rebuilds_it()
    {
        using var broker = new BrokerProcess(partitions: 3);
        await GenerateAsync(broker.Bootstrap, shoppers: 300);
        string[] worker = ["worker", "--bootstrap", broker.Bootstrap, "--group", "lost", "--data", Dir("lost"), "--drain"];
        var first = await Cli.RunAsync(TimeSpan.FromMinutes(4), worker);
        Assert.True(first.ExitCode == 0, first.ToString());

        // The checkpoint store is wiped (a new volume, a deleted file); the group's committed offsets remain. New input
        // arrives, so the next drain has work to do on every partition.
        foreach (var file in Directory.GetFiles(Dir("lost"), "checkpoints.db*")) File.Delete(file);
        await GenerateAsync(broker.Bootstrap, shoppers: 100, seed: 6);
        var refused = await Cli.RunAsync(TimeSpan.FromMinutes(4), worker);
        output.WriteLine(refused.ToString());
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("error: the worker failed:", refused.Stderr);
        Assert.Matches(@"partition \d has no checkpoint, but group lost committed offsets", refused.Stderr);
        Assert.Contains("--start-over", refused.Stderr);
        Assert.DoesNotContain("resuming at 0,0,0", refused.Stdout + refused.Stderr);

        // Refusing saved nothing: a second start still finds the store empty and refuses again.
        var again = await Cli.RunAsync(TimeSpan.FromMinutes(4), worker);
        Assert.Equal(3, again.ExitCode);

        // The operator's explicit choice: rebuild from the beginning of the input.
        var startOver = await Cli.RunAsync(TimeSpan.FromMinutes(4), [.. worker, "--start-over"]);
        output.WriteLine(startOver.ToString());
        Assert.True(startOver.ExitCode == 0, startOver.ToString());
        Assert.Contains("starting over from the beginning of the input (--start-over)", startOver.Stdout + startOver.Stderr);
        // ... after which the store holds checkpoints again and a plain restart resumes from them.
        var resumed = await Cli.RunAsync(TimeSpan.FromMinutes(4), worker);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
    }

    [Fact]
    public async Task A_drain_that_loses_its_broker_exits_non_zero_with_the_cause_after_its_patience()
    {
        var broker = new BrokerProcess(partitions: 3);
        try
        {
            await GenerateAsync(broker.Bootstrap, shoppers: 3_000);
            using var worker = Started(Cli.Start("worker", "--bootstrap", broker.Bootstrap, "--group", "orphan", "--data", Dir("orphan"), "--drain",
                "--Worker:BrokerPatience=00:00:05", "--Worker:ShutdownTimeout=00:00:10"));
            var log = Collect(worker);
            var clock = Stopwatch.StartNew();
            // The drain has begun (it read the input's ends) when the broker dies: it can never finish now.
            while (!log.Contains("drain: the group finishes") && !worker.HasExited && clock.Elapsed < TimeSpan.FromMinutes(3)) await Task.Delay(20);
            Assert.True(log.Contains("drain: the group finishes"), $"the drain did not begin:\n{log}");
            broker.Dispose(); // SIGKILL: the broker is gone for good

            Assert.True(worker.WaitForExit(TimeSpan.FromMinutes(4)), $"the drain did not end after its broker died:\n{log}");
            worker.WaitForExit();
            output.WriteLine(log.ToString());
            Assert.Equal(3, worker.ExitCode);
            Assert.Contains("error: the worker failed:", log.ToString());
            Assert.Contains("no Kafka broker reachable at", log.ToString());
            // Broker errors are rate-limited (librdkafka reports every reconnect attempt).
            Assert.InRange(KafkaErrorLine().Matches(log.ToString()).Count, 0, 12);
        }
        finally
        {
            broker.Dispose();
        }
    }

    [Fact]
    public async Task Exit_codes_tell_configuration_from_runtime_failures_and_a_password_in_a_url_is_refused_on_the_command_line()
    {
        // A password in a URL on the command line: refused like any other secret there, without echoing it.
        var url = await Cli.RunAsync(TimeSpan.FromMinutes(1), "worker", "--bootstrap", "127.0.0.1:1", "--data", Dir("url"),
            "--ClickHouse:Url=https://analyst:s3cr3t-pw@clickhouse.example:8443");
        Assert.Equal(2, url.ExitCode);
        Assert.Contains("ClickHouse:Url: secrets are not accepted on the command line", url.Stderr);
        Assert.DoesNotContain("s3cr3t-pw", url.Stdout + url.Stderr);
        // A configuration value out of range: 2.
        var config = await Cli.RunAsync(TimeSpan.FromMinutes(1), "worker", "--bootstrap", "127.0.0.1:1", "--data", Dir("config"), "--Worker:BrokerPatience=00:00:00");
        Assert.Equal(2, config.ExitCode);
        Assert.Contains("Worker:BrokerPatience must be > 0", config.Stderr);
        // No broker at all: a runtime failure, 3, with its chain of causes.
        var runtime = await Cli.RunAsync(TimeSpan.FromMinutes(3), "worker", "--bootstrap", "127.0.0.1:1", "--data", Dir("runtime"), "--drain");
        output.WriteLine(runtime.ToString());
        Assert.Equal(3, runtime.ExitCode);
        Assert.Contains("error: the worker failed:", runtime.Stderr);
        Assert.Contains("caused by:", runtime.Stderr);
    }

    private Process Started(Process worker)
    {
        lock (_workers) _workers.Add(worker);
        return worker;
    }

    private static async Task GenerateAsync(string bootstrap, int shoppers, int seed = 5)
    {
        var generated = await Cli.RunAsync(TimeSpan.FromMinutes(3), "generate", "--bootstrap", bootstrap, "--shoppers", shoppers.ToString(), "--seed", seed.ToString());
        Assert.True(generated.ExitCode == 0, generated.Stderr);
    }

    private static SynchronizedLog Collect(Process process)
    {
        var log = new SynchronizedLog();
        process.OutputDataReceived += (_, e) => log.Add(e.Data);
        process.ErrorDataReceived += (_, e) => log.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return log;
    }

    [GeneratedRegex(@"kafka (consumer|producer): ")]
    private static partial Regex KafkaErrorLine();

    public void Dispose()
    {
        lock (_workers)
            foreach (var worker in _workers)
                try { if (!worker.HasExited) worker.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}
