using CartRecovery.Contracts;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Replay.Tests.Support;
using CartRecovery.Traffic;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>A replay of a time range of live topics writes to prefixed outputs and leaves the live ones untouched.</summary>
public sealed class LiveReplayTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly MockKafkaCluster _live = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Live_topic_replay_with_an_output_prefix_leaves_the_live_tables_and_topic_untouched()
    {
        var settings = new SimulationSettings { Shoppers = 800, Seed = 11 };
        Host.TrafficPublisher.Publish(_live.BootstrapServers, StorefrontSimulator.Generate(settings));
        var liveData = _temp.Sub("live");
        output.WriteLine((await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "worker", "--bootstrap", _live.BootstrapServers, "--data", liveData, "--drain")).Stdout);

        var liveTopicBefore = ReadTopic(Topics.RecoveryTriggers);
        var liveTablesBefore = await ExportTablesAsync(liveData);
        Assert.NotEmpty(liveTopicBefore);

        var from = settings.Start.AddHours(1).ToString("O");
        var to = settings.Start.AddHours(4).ToString("O");
        var replayData = _temp.Sub("replay");
        var replay = await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "replay", "--bootstrap", _live.BootstrapServers, "--from", from, "--to", to,
            "--output-prefix", "backfill1", "--data", replayData);
        output.WriteLine(replay.Stdout);

        Assert.Equal(liveTopicBefore, ReadTopic(Topics.RecoveryTriggers));
        Assert.Equal(liveTablesBefore, await ExportTablesAsync(liveData));
        var replayedTriggers = ReadTopic("backfill1." + Topics.RecoveryTriggers);
        Assert.NotEmpty(replayedTriggers);
        var replayedRows = Cli.Rows(await Cli.QueryTsvAsync(replayData, "SELECT trigger_id FROM recovery_triggers FINAL ORDER BY trigger_id"));
        Assert.Equal(replayedRows, replayedTriggers.Select(t => t.TriggerId).Order(StringComparer.Ordinal));
        // The history before the window was decided without output: nothing in the replay's tables ends before it,
        // and no session starts after the window.
        var outside = Cli.Rows(await Cli.QueryTsvAsync(replayData,
            $"SELECT count() FROM session_outcomes FINAL WHERE ended_at < parseDateTime64BestEffort('{from}') OR started_at >= parseDateTime64BestEffort('{to}')"));
        Assert.Equal(["0"], outside);
        Assert.Equal(["0"], Cli.Rows(await Cli.QueryTsvAsync(replayData,
            $"SELECT count() FROM recovery_triggers FINAL WHERE event_time < parseDateTime64BestEffort('{from}')")));
    }

    /// <summary>A window late in the day holds returning shoppers whose consent, carts and reminders are older than the
    /// window: the replay rebuilds that state first, so every decision taken inside the window is the full run's.</summary>
    [Fact]
    public async Task A_windowed_replay_decides_the_window_as_the_full_run_decides_it()
    {
        var settings = new SimulationSettings { Shoppers = 1_500, Seed = 23, Duration = TimeSpan.FromHours(12) };
        Host.TrafficPublisher.Publish(_live.BootstrapServers, StorefrontSimulator.Generate(settings));
        var fullData = _temp.Sub("full");
        await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "worker", "--bootstrap", _live.BootstrapServers, "--data", fullData, "--drain");

        var from = settings.Start.AddHours(6).ToString("O");
        var to = settings.Start.AddHours(12).ToString("O");
        var replayData = _temp.Sub("window");
        output.WriteLine((await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "replay", "--bootstrap", _live.BootstrapServers, "--from", from, "--to", to,
            "--output-prefix", "window1", "--data", replayData)).Stdout);

        // Decisions taken inside the window: triggers, and audit rows of sent and suppressed messages (with reasons).
        var inWindow = $"event_time >= parseDateTime64BestEffort('{from}') AND event_time < parseDateTime64BestEffort('{to}')";
        var triggers = $"SELECT * FROM recovery_triggers FINAL WHERE {inWindow} ORDER BY trigger_id";
        var decisions = $"SELECT decision, reason, count() FROM audit_log FINAL WHERE {inWindow} AND decision IN ('triggered', 'suppressed', 'deferred') GROUP BY decision, reason ORDER BY decision, reason";
        var expectedTriggers = Cli.Rows(await Cli.QueryTsvAsync(fullData, triggers));
        Assert.True(expectedTriggers.Length > 50, $"the window must hold reminders to compare (has {expectedTriggers.Length})");
        Assert.Equal(expectedTriggers, Cli.Rows(await Cli.QueryTsvAsync(replayData, triggers)));
        var expectedDecisions = await Cli.QueryTsvAsync(fullData, decisions);
        output.WriteLine(expectedDecisions);
        Assert.Equal(expectedDecisions, await Cli.QueryTsvAsync(replayData, decisions));
    }

    [Fact]
    public async Task Live_topic_replay_without_an_output_prefix_is_refused_and_writes_nothing()
    {
        var refused = await Cli.RunAsync(TimeSpan.FromMinutes(2), "replay", "--bootstrap", _live.BootstrapServers, "--from", "2026-11-02T00:00:00Z",
            "--data", _temp.Sub("unused"));
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--output-prefix", refused.Stderr);
        Assert.Contains("--allow-live-outputs", refused.Stderr);
        Assert.Empty(ReadTopic(Topics.RecoveryTriggers));
        Assert.False(Directory.Exists(_temp.Sub("unused")));
    }

    private sealed record TopicRecord(int Partition, long Offset, string TriggerId, string Value);

    private List<TopicRecord> ReadTopic(string topic)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = _live.BootstrapServers, GroupId = "replay-test-reader-" + Guid.NewGuid(), EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _live.BootstrapServers }).Build();
        var meta = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single();
        if (meta.Error.IsError) return [];
        var partitions = meta.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var records = new List<TopicRecord>();
        var remaining = partitions.Where(tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value > 0).ToHashSet();
        consumer.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        while (remaining.Count > 0)
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new TimeoutException($"reading {topic} stalled");
            if (result.IsPartitionEOF) { remaining.Remove(result.TopicPartition); continue; }
            var id = System.Text.Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes("trigger_id"));
            records.Add(new TopicRecord(result.Partition.Value, result.Offset.Value, id, result.Message.Value));
        }
        return [.. records.OrderBy(r => r.Partition).ThenBy(r => r.Offset)];
    }

    private static async Task<string> ExportTablesAsync(string data) =>
        await Cli.QueryTsvAsync(data, "SELECT * FROM recovery_triggers FINAL ORDER BY trigger_id") +
        await Cli.QueryTsvAsync(data, "SELECT * FROM audit_log FINAL ORDER BY audit_id") +
        await Cli.QueryTsvAsync(data, "SELECT * FROM session_outcomes FINAL ORDER BY session_id, shopper_id") +
        await Cli.QueryTsvAsync(data, "SELECT * FROM dead_letters FINAL ORDER BY dead_letter_id");

    public void Dispose()
    {
        _live.Dispose();
        _temp.Dispose();
    }
}
