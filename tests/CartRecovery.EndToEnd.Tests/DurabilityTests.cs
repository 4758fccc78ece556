using System.Diagnostics;
using System.Text.RegularExpressions;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Host;
using CartRecovery.Host.Commands;
using CartRecovery.Traffic;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Crashes, scaling and broker faults must not lose or duplicate a trigger, an audit row or an outcome. Black box:
/// broker, generator and workers run as separate processes of the CLI (the fault test hosts the broker in-process to
/// reach its fault-injection calls); every run is compared with an uninterrupted run of the same input.
/// </summary>
[Collection("processes")]
public sealed partial class DurabilityTests(ITestOutputHelper output) : IDisposable
{
    private const int Shoppers = 5_200; // about 52,000 events with several thousand abandoned carts
    private const int TrafficSeed = 11;
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("cartrecovery-durability-");
    // Workers a failed assertion leaves running are killed, so they do not load the machine under later tests.
    private readonly List<Process> _workers = [];

    private Process Started(Process worker)
    {
        lock (_workers) _workers.Add(worker);
        return worker;
    }

    private string Dir(string name) => Path.Combine(_root.FullName, name);

    [Fact]
    public async Task Twenty_SIGKILLs_lose_and_duplicate_nothing()
    {
        using var broker = new BrokerProcess(partitions: 6);
        var events = await GenerateAsync(broker.Bootstrap);
        Assert.True(events >= 50_000, $"the scripted stream must hold at least 50,000 events (has {events})");
        var expected = await ReferenceAsync(broker.Bootstrap);
        Assert.True(expected.Triggers.Count > 1_000, "several thousand abandonments produce well over a thousand triggers");

        var random = new Random(20261123);
        var landed = 0;
        var clock = Stopwatch.StartNew();
        for (var kill = 1; kill <= 20; kill++)
        {
            var delay = random.Next(400, 3_000);
            using var worker = Started(StartWorker(broker.Bootstrap, "crash", Dir("crash")));
            var exited = worker.WaitForExit(delay);
            if (!exited)
            {
                worker.Kill(); // SIGKILL: no shutdown hook runs
                worker.WaitForExit();
                landed++;
            }
            output.WriteLine($"kill {kill,2}: after {delay} ms (seed 20261123) -> {(exited ? $"already finished (exit {worker.ExitCode})" : "SIGKILL")}");
        }
        var restart = Stopwatch.StartNew();
        var final = await Cli.RunAsync(TimeSpan.FromMinutes(5), WorkerArgs(broker.Bootstrap, "crash", Dir("crash")));
        Assert.True(final.ExitCode == 0, final.Stderr);
        output.WriteLine($"{landed} of 20 kills landed mid-run; restart-to-drained after the last one: {restart.Elapsed.TotalSeconds:F1} s; total {clock.Elapsed.TotalSeconds:F0} s");

        var actual = await PipelineSnapshot.ReadAsync(Dir("crash"));
        actual.AssertSameAs(expected);
        var (distinct, physical) = TriggerIdsOnTopic(broker.Bootstrap);
        Assert.Equal(expected.Triggers.Select(t => t.Split('\t')[0]).ToHashSet(), distinct);
        output.WriteLine($"recovery-triggers: {distinct.Count} distinct trigger ids; {physical - 2 * distinct.Count} re-deliveries of the replayed tails (same ids)");
        Assert.True(landed >= 5, $"most kills should land while the worker runs (landed {landed})");
    }

    /// <summary>Drain workers joining and leaving (SIGTERM) mid-run: the one that stays takes over the partitions of
    /// those that leave and exits only when the group's work is done, so nothing is lost, on either checkpoint store.</summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Scaling_one_to_three_to_one_workers_mid_stream_gives_the_same_result(string store)
    {
        using var broker = new BrokerProcess(partitions: 6);
        await GenerateAsync(broker.Bootstrap);
        var expected = await ReferenceAsync(broker.Bootstrap);

        // A fresh group per run: the checkpoints of a PostgreSQL server outlive the test (persistence ids carry the group).
        var group = $"scale-{store}-{Guid.NewGuid():N}";
        string[] checkpoints = store == "sqlite"
            ? ["--checkpoint-db", Path.Combine(_root.FullName, "scale-checkpoints.db")]
            : ["--postgres", Environment.GetEnvironmentVariable("CARTRECOVERY_TEST_POSTGRES") is { Length: > 0 } pg
                ? pg : throw new InvalidOperationException("CARTRECOVERY_TEST_POSTGRES is not set: run the tests through ./test.sh")];
        string[] Args(string name) => [.. WorkerArgs(broker.Bootstrap, group, Dir(name)), .. checkpoints];
        using var first = Started(Cli.Start(Args("scale-a")));
        var firstLog = Collect(first);
        await WaitForAsync(() => firstLog.Contains("assigned"), TimeSpan.FromMinutes(3), () => $"the first worker was not assigned partitions:\n{firstLog}");
        using var second = Started(Cli.Start(Args("scale-b")));
        using var third = Started(Cli.Start(Args("scale-c")));
        var secondLog = Collect(second);
        var thirdLog = Collect(third);
        await WaitForAsync(() => (secondLog.Contains("assigned") || second.HasExited) && (thirdLog.Contains("assigned") || third.HasExited), TimeSpan.FromMinutes(3),
            () => $"the joining workers were not assigned partitions:\nsecond:\n{secondLog}\nthird:\n{thirdLog}\nfirst:\n{firstLog}");
        output.WriteLine($"3 workers: a={Partitions(firstLog)} b={Partitions(secondLog)} c={Partitions(thirdLog)}");
        // Back to one: SIGTERM, the graceful stop an orchestrator sends (finish, checkpoint, commit, leave).
        foreach (var worker in new[] { second, third })
            if (!worker.HasExited) Process.Start("kill", ["-TERM", worker.Id.ToString()])!.WaitForExit();
        foreach (var (worker, log, name) in new[] { (first, firstLog, "first"), (second, secondLog, "second"), (third, thirdLog, "third") })
        {
            Assert.True(worker.WaitForExit(TimeSpan.FromMinutes(4)), $"the {name} worker did not finish:\n{log}");
            worker.WaitForExit();
            Assert.True(worker.ExitCode == 0, $"the {name} worker exited {worker.ExitCode}:\n{log}\nfirst:\n{firstLog}\nsecond:\n{secondLog}\nthird:\n{thirdLog}");
        }
        output.WriteLine($"first worker's log:\n{firstLog}");

        var actual = await PipelineSnapshot.ReadAsync(Dir("scale-a"), Dir("scale-b"), Dir("scale-c"));
        actual.AssertSameAs(expected);
    }

    [Fact]
    public async Task Request_errors_and_leader_moves_injected_into_the_broker_change_nothing()
    {
        using var broker = EmbeddedBroker.Start(partitions: 6, brokers: 3);
        TrafficPublisher.Publish(broker.BootstrapServers,
            StorefrontSimulator.Generate(new SimulationSettings { Shoppers = 3_000, Seed = TrafficSeed }));
        var expected = await ReferenceAsync(broker.BootstrapServers);

        using var worker = Started(Cli.Start(WorkerArgs(broker.BootstrapServers, "faults", Dir("faults"))));
        var log = Collect(worker);
        var random = new Random(7);
        var injected = 0;
        // Leaders move until the worker has drained its input. Request errors are a fixed budget, not a rate: each
        // queued error fails the next request of its kind whenever that comes, so errors pushed faster than the worker
        // sends such requests pile up and outlast the run (a slow start on a loaded machine once left hundreds of
        // Produce errors queued for the drain's last few records, minutes of retries).
        for (var tick = 0; !worker.HasExited && !log.Contains("drained partitions") && tick < 2_000; tick++)
        {
            foreach (var topic in Topics.Inputs.Append(Topics.RecoveryTriggers))
                broker.SetPartitionLeader(topic, random.Next(6), 1 + random.Next(3));
            if (tick < 40)
            {
                // Fetch (1), Produce (0), OffsetCommit (8): retriable errors a changing cluster returns.
                broker.PushRequestErrors(1, tick % 2 == 0 ? ErrorCode.NotLeaderForPartition : ErrorCode.RequestTimedOut);
                if (tick % 4 == 0) broker.PushRequestErrors(0, ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut);
                if (tick % 10 == 0) broker.PushRequestErrors(8, ErrorCode.GroupLoadInProgress);
                // ListOffsets (2): the drain's watermark queries at start, answered as during a leader election.
                if (tick < 3) broker.PushRequestErrors(2, ErrorCode.NotLeaderForPartition, ErrorCode.LeaderNotAvailable);
                injected++;
            }
            await Task.Delay(250);
        }
        Assert.True(worker.WaitForExit(TimeSpan.FromMinutes(4)), $"the worker did not finish under faults:\n{log}");
        worker.WaitForExit();
        Assert.True(worker.ExitCode == 0, $"worker exit {worker.ExitCode}:\n{log}");
        output.WriteLine($"{injected} rounds of injected request errors, leader moves until drained");
        Assert.True(injected >= 5, "faults must be injected while the worker runs");

        (await PipelineSnapshot.ReadAsync(Dir("faults"))).AssertSameAs(expected);
    }

    private async Task<long> GenerateAsync(string bootstrap)
    {
        var generated = await Cli.RunAsync(TimeSpan.FromMinutes(3), "generate", "--bootstrap", bootstrap, "--shoppers", Shoppers.ToString(), "--seed", TrafficSeed.ToString());
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        return long.Parse(GeneratedCount().Match(generated.Stdout).Groups[1].Value);
    }

    private async Task<PipelineSnapshot> ReferenceAsync(string bootstrap)
    {
        var clock = Stopwatch.StartNew();
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), WorkerArgs(bootstrap, "reference", Dir("reference")));
        Assert.True(run.ExitCode == 0, run.Stderr);
        output.WriteLine($"uninterrupted reference run: {clock.Elapsed.TotalSeconds:F1} s");
        return await PipelineSnapshot.ReadAsync(Dir("reference"));
    }

    private static string[] WorkerArgs(string bootstrap, string group, string data) =>
        ["worker", "--bootstrap", bootstrap, "--group", group, "--data", data, "--drain"];

    private static Process StartWorker(string bootstrap, string group, string data)
    {
        var process = Cli.Start(WorkerArgs(bootstrap, group, data));
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
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

    private static string Partitions(SynchronizedLog log) =>
        string.Join(",", PartitionAssigned().Matches(log.ToString()).Select(m => m.Groups[1].Value).Distinct());

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, Func<string> whatWasAwaited)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException(whatWasAwaited());
            await Task.Delay(50);
        }
    }

    /// <summary>Distinct trigger ids on the topic, and the number of messages (re-deliveries included).</summary>
    private static (HashSet<string> Distinct, int Physical) TriggerIdsOnTopic(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "reader-" + Guid.NewGuid(), EnablePartitionEof = true, AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, 6).Select(p => new TopicPartitionOffset(Topics.RecoveryTriggers, p, Offset.Beginning)));
        var ids = new HashSet<string>();
        var physical = 0;
        var atEnd = new HashSet<int>();
        while (atEnd.Count < 6)
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException("trigger topic not readable");
            if (result.IsPartitionEOF) { atEnd.Add(result.Partition.Value); continue; }
            physical++;
            ids.Add(ContractJson.DeserializeTrigger(result.Message.Value).TriggerId);
        }
        return (ids, physical);
    }

    [GeneratedRegex(@"generated (\d+) events")]
    private static partial Regex GeneratedCount();

    [GeneratedRegex(@"partition (\d+) assigned")]
    private static partial Regex PartitionAssigned();

    public void Dispose()
    {
        lock (_workers)
            foreach (var worker in _workers)
                try { if (!worker.HasExited) worker.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}

public sealed class SynchronizedLog
{
    private readonly System.Text.StringBuilder _text = new();

    public void Add(string? line)
    {
        if (line is null) return;
        lock (_text) _text.AppendLine(line);
    }

    public bool Contains(string value)
    {
        lock (_text) return _text.ToString().Contains(value, StringComparison.Ordinal);
    }

    public override string ToString()
    {
        lock (_text) return _text.ToString();
    }
}
