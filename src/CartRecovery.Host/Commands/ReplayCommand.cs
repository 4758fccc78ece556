using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using CartRecovery.Contracts;
using CartRecovery.Kafka;
using CartRecovery.Kafka.Configuration;
using CartRecovery.Storage;
using CartRecovery.Storage.Schema;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Streaming;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using CartRecovery.Traffic.Import;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace CartRecovery.Host.Commands;

/// <summary>
/// <c>replay</c>: re-process recorded input deterministically, never into the live outputs unless asked.
/// <list type="bullet">
/// <item>From a file (<c>--input FILE --format rees46|taobao|ndjson</c>): import into the input topics of an embedded broker
/// (file order = per-shopper order, event times kept), run the worker with drain semantics into the isolated
/// <c>--data</c> directory, print the main job's summary.</item>
/// <item>From live topics (<c>--bootstrap B --from T --to T --output-prefix NAME</c>): copy the time range of the live
/// input topics, found by timestamp with a new consumer group, into an embedded staging broker (same partitions),
/// process it the same way, and publish the triggers and dead letters to <c>NAME.recovery-triggers</c> and
/// <c>NAME.dead-letter</c> on the live cluster. Refuses to write to the live outputs without
/// <c>--allow-live-outputs</c>.</item>
/// </list>
/// docs/replay.md is the user's guide.
/// </summary>
public static partial class ReplayCommand
{
    public const int ExitTooManyBadLines = 3;
    public const string LiveDataDirectory = "./data";
    private const int MaxBadLinesPrinted = 50;

    public static Command Create()
    {
        var input = new Option<string?>("--input") { Description = "Recorded input file to replay (with --format)" };
        var format = new Option<string>("--format") { Description = "Format of --input: rees46 | taobao | ndjson (the event contract, one event per line)", DefaultValueFactory = _ => ImportFormats.Ndjson };
        format.AcceptOnlyFromAmong([.. ImportFormats.All]);
        var data = new Option<string?>("--data") { Description = "Isolated directory of the replay's ClickHouse store and state (file replay: ./replay-data; live replay: ./replays/NAME)" };
        var policy = new Option<string?>("--policy") { Description = "Recovery policy file (JSON); default: the built-in default policy" };
        var maxBadShare = new Option<double>("--max-bad-share") { Description = "Exit non-zero when more than this share of the input lines is bad (they are skipped either way)", DefaultValueFactory = _ => 0.01 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions per input topic of the embedded broker (file replay)", DefaultValueFactory = _ => 6 };
        var consent = new Option<string>("--rees46-consent") { Description = "rees46: channel of the synthetic cart_recovery consent granted at a shopper's first event (email, sms, push), or none", DefaultValueFactory = _ => "email" };
        var currency = new Option<string>("--rees46-currency") { Description = "rees46: currency of the prices", DefaultValueFactory = _ => "USD" };
        var timeZone = new Option<string>("--rees46-time-zone") { Description = "rees46: IANA time zone assumed for every shopper (quiet hours)", DefaultValueFactory = _ => "UTC" };
        var taobaoConsent = new Option<string>("--taobao-consent") { Description = "taobao: channel of the synthetic cart_recovery consent granted at a shopper's first event (email, sms, push), or none", DefaultValueFactory = _ => "email" };
        var taobaoTimeZone = new Option<string>("--taobao-time-zone") { Description = "taobao: IANA time zone assumed for every shopper (quiet hours)", DefaultValueFactory = _ => ClickstreamDefaults.Taobao.TimeZone };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Live replay: bootstrap servers of the cluster whose topics are re-read" };
        var topics = new Option<string[]>("--topics") { Description = "Live replay: input topics to re-read", DefaultValueFactory = _ => [.. Topics.Inputs], AllowMultipleArgumentsPerToken = true };
        var from = new Option<string?>("--from") { Description = "Live replay: start of the range (record timestamp, ISO 8601, UTC unless an offset is given), inclusive" };
        var to = new Option<string?>("--to") { Description = "Live replay: end of the range, exclusive (default: the end of the topics when the replay starts)" };
        var prefix = new Option<string?>("--output-prefix") { Description = "Live replay: outputs go to NAME.recovery-triggers, NAME.dead-letter and the data directory ./replays/NAME" };
        var allowLive = new Option<bool>("--allow-live-outputs") { Description = "Live replay: allow writing to the live trigger topic and data directory (backfill into production)" };
        var database = new Option<string?>("--database") { Description = "Database of the replay's tables on a ClickHouse server (CARTRECOVERY_CLICKHOUSE_URL); default replay_NAME for a live replay with --output-prefix NAME. The embedded store isolates by --data instead" };
        var metricsOut = new Option<string?>("--metrics-out") { Description = "Write the backtest metrics of the run as JSON (used by backtest)", Hidden = true };

        var command = new Command("replay", "Replay a recorded file (--input) or a time range of live topics (--bootstrap) through the worker with drain semantics, into isolated outputs");
        foreach (var option in new Option[] { input, format, data, policy, maxBadShare, partitions, consent, currency, timeZone, taobaoConsent, taobaoTimeZone, bootstrap, topics, from, to, prefix, allowLive, database, metricsOut })
            command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var inputFile = parse.GetValue(input);
            var live = parse.GetValue(bootstrap);
            if (inputFile is not null && live is not null) throw new ArgumentException("replay: give either --input FILE or --bootstrap B, not both");
            if (inputFile is null && live is null) throw new ArgumentException("replay: give --input FILE --format F (recorded file) or --bootstrap B --from T --output-prefix NAME (live topics)");
            if (inputFile is not null)
            {
                var importDefaults = parse.GetValue(format) == ImportFormats.Taobao
                    ? ClickstreamDefaults.Taobao with { AssumedConsentChannel = ConsentChannel(parse.GetValue(taobaoConsent)!), TimeZone = parse.GetValue(taobaoTimeZone)! }
                    : ClickstreamDefaults.Rees46 with
                    {
                        AssumedConsentChannel = ConsentChannel(parse.GetValue(consent)!), Currency = parse.GetValue(currency)!, TimeZone = parse.GetValue(timeZone)!,
                    };
                return await ReplayFileAsync(new FileReplay(inputFile, parse.GetValue(format)!, parse.GetValue(data) ?? "./replay-data", parse.GetValue(policy),
                    parse.GetValue(maxBadShare), parse.GetValue(partitions), importDefaults, parse.GetValue(metricsOut), parse.GetValue(database)), Console.Out, Console.Error, ct);
            }
            return await ReplayLiveAsync(new LiveReplay(live!, parse.GetValue(topics)!, ParseTime(parse.GetValue(from), "--from", required: true)!.Value,
                ParseTime(parse.GetValue(to), "--to", required: false), parse.GetValue(prefix), parse.GetValue(allowLive), parse.GetValue(data),
                parse.GetValue(policy), parse.GetValue(metricsOut), parse.GetValue(database)), Console.Out, ct);
        });
        return command;
    }

    private static string? ConsentChannel(string option) => option == "none" ? null : option;

    /// <param name="ImportDefaults">rees46, taobao: the importer's choices (ignored for ndjson).</param>
    public sealed record FileReplay(string Input, string Format, string DataDirectory, string? PolicyFile, double MaxBadShare, int Partitions,
        ClickstreamDefaults ImportDefaults, string? MetricsOut, string? Database = null);

    public static async Task<int> ReplayFileAsync(FileReplay replay, TextWriter output, TextWriter errors, CancellationToken ct)
    {
        if (replay.MaxBadShare is < 0 or > 1) throw new ArgumentException($"--max-bad-share must be between 0 and 1 (got {replay.MaxBadShare})");
        WorkerRunner.LoadPolicy(replay.PolicyFile); // fail on a bad policy before importing anything
        var store = StoreOptions(replay.Database ?? AnalyticsStoreOptions.DefaultDatabase);
        if (OnServer && store.Database == AnalyticsStoreOptions.DefaultDatabase)
            throw new ArgumentException($"replay: ClickHouse:Url points at a ClickHouse server: give --database NAME so the replay does not write to the live tables");
        var printed = 0;
        var statistics = new ImportStatistics
        {
            OnBadLine = bad =>
            {
                if (++printed <= MaxBadLinesPrinted) errors.WriteLine($"replay: skipped {bad}");
                else if (printed == MaxBadLinesPrinted + 1) errors.WriteLine("replay: more bad lines are counted but not printed");
            },
        };

        using var broker = EmbeddedBroker.Start(replay.Partitions);
        output.WriteLine($"embedded broker: {broker.BootstrapServers}");
        long published;
        try
        {
            published = TrafficPublisher.Publish(broker.BootstrapServers, ImportFormats.Read(replay.Input, replay.Format, statistics, replay.ImportDefaults));
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"--input: {e.Message}");
        }
        LiveTopicRange.EnsureNothingEvicted(broker.BootstrapServers, replay.Partitions);
        output.WriteLine($"imported {statistics.DataLines:N0} lines ({replay.Format}): {published:N0} events published, {statistics.BadLines.Count:N0} bad lines skipped " +
            $"({statistics.BadShare.ToString("P2", CultureInfo.InvariantCulture)})");

        var run = await WorkerRunner.RunAsync(new WorkerSettings { BootstrapServers = broker.BootstrapServers, Drain = true, Checkpoints = WorkerRunner.CheckpointStore(replay.DataDirectory, null, null) }, replay.PolicyFile, replay.DataDirectory, ct, store, progress: "replay", expectedEvents: published);
        // The lines the import rejected never reached the broker: they are dead letters of the replay like the records
        // the worker rejects, in the same table and counted in the same summary line.
        var rejected = RejectedLines(replay.Input, statistics);
        var byReason = new Dictionary<string, long>(run.DeadLettersByReason);
        foreach (var letter in rejected) byReason[letter.Reason] = byReason.GetValueOrDefault(letter.Reason) + 1;
        run = run with { DeadLetters = run.DeadLetters + rejected.Count, DeadLettersByReason = byReason };
        await SummarizeAsync(replay.DataDirectory, store, run, replay.PolicyFile, replay.MetricsOut, output, ct, rejected);
        output.WriteLine($"\nreplay outputs are in {replay.DataDirectory}: ./run.sh query --data {replay.DataDirectory} \"SELECT * FROM recovery_triggers FINAL LIMIT 10\"");

        if (statistics.BadShare > replay.MaxBadShare)
        {
            errors.WriteLine($"replay: {statistics.BadLines.Count:N0} of {statistics.DataLines:N0} lines were bad " +
                $"({statistics.BadShare.ToString("P2", CultureInfo.InvariantCulture)} > --max-bad-share {replay.MaxBadShare.ToString(CultureInfo.InvariantCulture)})");
            return ExitTooManyBadLines;
        }
        return 0;
    }

    /// <summary>A file replay's rejected lines as dead letters (docs/replay.md, "Bad lines"): topic = the input file's name,
    /// partition 0, offset = the line number, the importer's reason and detail, the line's SHA-256, and as received_at
    /// the event time of the last event accepted before the line (the first accepted event's for lines before any).</summary>
    public static IReadOnlyList<DeadLetter> RejectedLines(string inputFile, ImportStatistics statistics)
    {
        var topic = Path.GetFileName(inputFile);
        var fallback = statistics.FirstEventTime ?? DateTimeOffset.UnixEpoch;
        return [.. statistics.BadLines.Select(bad =>
            DeadLetters.Create(topic, 0, bad.LineNumber, bad.Reason, bad.Detail, bad.PayloadSha256, bad.After ?? fallback))];
    }

    public sealed record LiveReplay(string Bootstrap, IReadOnlyList<string> Topics, DateTimeOffset From, DateTimeOffset? To, string? OutputPrefix,
        bool AllowLiveOutputs, string? DataDirectory, string? PolicyFile, string? MetricsOut, string? Database = null);

    /// <summary>The outputs a live replay writes to, decided (and refused) before anything is read.</summary>
    public sealed record LiveReplayOutputs(string TriggerTopic, string DeadLetterTopic, string DataDirectory, string Database, string ConsumerGroup);

    public static LiveReplayOutputs PlanOutputs(LiveReplay replay)
    {
        var prefix = replay.OutputPrefix;
        if (prefix is not null && !OutputPrefixPattern().IsMatch(prefix))
            throw new ArgumentException("--output-prefix: use letters, digits, '_' and '-' only (it names topics and a data directory)");
        if (prefix is null && !replay.AllowLiveOutputs)
            throw new ArgumentException($"replay: without --output-prefix NAME this replay would write to the live outputs ({Contracts.Topics.RecoveryTriggers}, " +
                $"{Contracts.Topics.DeadLetter}, {replay.DataDirectory ?? LiveDataDirectory}); give --output-prefix NAME, or --allow-live-outputs to backfill them on purpose");
        var dataDirectory = replay.DataDirectory ?? (prefix is null ? LiveDataDirectory : Path.Combine("replays", prefix));
        if (!replay.AllowLiveOutputs && SamePath(dataDirectory, LiveDataDirectory))
            throw new ArgumentException($"replay: --data {dataDirectory} is the live data directory; choose another or give --allow-live-outputs");
        var database = replay.Database ?? (OnServer && prefix is not null ? "replay_" + prefix.Replace('-', '_') : AnalyticsStoreOptions.DefaultDatabase);
        if (!replay.AllowLiveOutputs && OnServer && database == AnalyticsStoreOptions.DefaultDatabase)
            throw new ArgumentException($"replay: --database {database} on the ClickHouse server is where the live worker writes; choose another or give --allow-live-outputs");
        var triggerTopic = prefix is null ? Contracts.Topics.RecoveryTriggers : $"{prefix}.{Contracts.Topics.RecoveryTriggers}";
        var deadLetterTopic = prefix is null ? Contracts.Topics.DeadLetter : $"{prefix}.{Contracts.Topics.DeadLetter}";
        var group = $"cartrecovery-replay-{prefix ?? "live"}-{replay.From.UtcDateTime:yyyyMMddTHHmmss}";
        return new LiveReplayOutputs(triggerTopic, deadLetterTopic, dataDirectory, database, group);
    }

    public static async Task<int> ReplayLiveAsync(LiveReplay replay, TextWriter output, CancellationToken ct)
    {
        var plan = PlanOutputs(replay);
        var policy = WorkerRunner.LoadPolicy(replay.PolicyFile);
        foreach (var topic in replay.Topics)
            if (!Contracts.Topics.Inputs.Contains(topic))
                throw new ArgumentException($"--topics: '{topic}' is not an input topic ({string.Join(", ", Contracts.Topics.Inputs)})");
        Kafka.Native.LibrdkafkaLibrary.EnsureLoaded();

        var source = HostConfiguration.KafkaAt(replay.Bootstrap);
        var partitions = LiveTopicRange.PartitionCounts(source, replay.Topics);
        using var staging = EmbeddedBroker.Start(partitions.Values.Max());
        // A decision in the window needs shopper state from before it: consent given any time earlier, and carts,
        // orders and reminders as far back as the policy looks (purchase memory, caps, attribution, step delays).
        // That history is read first and decided with outputs off, so the window is decided as a full run decides it.
        var history = new ReplayHistory(replay.From, policy.StateHorizon);
        long copied = 0;
        foreach (var topic in replay.Topics)
            copied += LiveTopicRange.Copy(source, [topic], partitions, history.ReadFrom(topic), replay.To, plan.ConsumerGroup,
                KafkaClientSettings.Plaintext(staging.BootstrapServers), ct);
        LiveTopicRange.EnsureNothingEvicted(staging.BootstrapServers, partitions.Values.Max());
        output.WriteLine($"read {copied:N0} records of {string.Join(", ", replay.Topics)} up to {(replay.To is { } t ? t.ToString("O") : "the end")} " +
            $"(consumer group {plan.ConsumerGroup}) into a staging broker: the window from {replay.From:O}, and before it the history its decisions need " +
            $"({Contracts.Topics.ConsentEvents} from the beginning, the other topics from {history.ReadFrom(Contracts.Topics.CartEvents):O}), decided without output");

        var store = StoreOptions(plan.Database);
        var run = await WorkerRunner.RunAsync(new WorkerSettings { BootstrapServers = staging.BootstrapServers, Drain = true, Checkpoints = WorkerRunner.CheckpointStore(plan.DataDirectory, null, null) },
            replay.PolicyFile, plan.DataDirectory, ct, store, output: new Streaming.Output.OutputSettings { WriteFrom = replay.From }, progress: "replay", expectedEvents: copied);
        var triggers = LiveTopicRange.Forward(KafkaClientSettings.Plaintext(staging.BootstrapServers), Contracts.Topics.RecoveryTriggers, source, plan.TriggerTopic, ct);
        var deadLetters = LiveTopicRange.Forward(KafkaClientSettings.Plaintext(staging.BootstrapServers), Contracts.Topics.DeadLetter, source, plan.DeadLetterTopic, ct);
        output.WriteLine($"published {triggers:N0} triggers to {plan.TriggerTopic} and {deadLetters:N0} dead letters to {plan.DeadLetterTopic} on {replay.Bootstrap}");
        await SummarizeAsync(plan.DataDirectory, store, run, replay.PolicyFile, replay.MetricsOut, output, ct);
        output.WriteLine($"\nreplay outputs: topic {plan.TriggerTopic}, data directory {plan.DataDirectory}, database {plan.Database}");
        return 0;
    }

    /// <summary>What a windowed replay reads before its window: consent is long-lived (from the beginning); everything
    /// else as far back as a decision looks (<see cref="Domain.Policy.RecoveryPolicy.StateHorizon"/>).</summary>
    public sealed record ReplayHistory(DateTimeOffset WindowStart, TimeSpan Horizon)
    {
        public DateTimeOffset ReadFrom(string topic) =>
            topic == Contracts.Topics.ConsentEvents ? DateTimeOffset.UnixEpoch : WindowStart - Horizon;
    }

    private static bool OnServer => HostConfiguration.Current.ClickHouse is not null;

    /// <summary>A replay's tables keep every row: retention TTLs count from the wall clock and would delete historical traffic.</summary>
    private static AnalyticsStoreOptions StoreOptions(string database) => new() { Database = database, Schema = SchemaOptions.KeepForever };

    private static async Task SummarizeAsync(string dataDirectory, AnalyticsStoreOptions options, WorkerRun run, string? policyFile, string? metricsOut,
        TextWriter output, CancellationToken ct, IReadOnlyList<DeadLetter>? rejectedInput = null)
    {
        await using var store = AnalyticsStoreFactory.Open(dataDirectory, options);
        await OutputWriter.InsertDeadLettersAsync(store, rejectedInput ?? [], ct);
        await RunSummary.PrintAsync(store, run, output, ct);
        if (metricsOut is not null)
            await File.WriteAllTextAsync(metricsOut, await BacktestMetrics.CollectJsonAsync(store, WorkerRunner.LoadPolicy(policyFile, withKeys: false), ct), ct);
    }

    private static DateTimeOffset? ParseTime(string? text, string option, bool required)
    {
        if (text is null)
            return required ? throw new ArgumentException($"replay: {option} TIME is required for a live replay") : null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)) return time;
        throw new ArgumentException($"{option}: not an ISO 8601 time: {text}");
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,100}$")]
    private static partial Regex OutputPrefixPattern();
}

/// <summary>Reading a time range of live topics (offsets by timestamp) and copying topics between clusters,
/// partition for partition, keys, values, timestamps and headers unchanged.</summary>
internal static class LiveTopicRange
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static Dictionary<string, int> PartitionCounts(KafkaClientSettings kafka, IEnumerable<string> topics)
    {
        using var admin = new AdminClientBuilder(kafka.AdminConfig()).Build();
        return admin.PartitionCounts(topics, kafka.BootstrapServers, Timeout);
    }

    /// <summary>Copies the records with timestamps in [from, to) into the same topic and partition of the target.
    /// The end of each partition is fixed when the copy starts, so traffic arriving meanwhile is not chased.</summary>
    public static long Copy(KafkaClientSettings source, IReadOnlyList<string> topics, IReadOnlyDictionary<string, int> partitions, DateTimeOffset from,
        DateTimeOffset? to, string group, KafkaClientSettings target, CancellationToken ct)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(source.ConsumerConfig(new ConsumerConfig
        {
            GroupId = group, EnableAutoCommit = false, EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted, FetchWaitMaxMs = 10,
        })).Build();
        var all = topics.SelectMany(t => Enumerable.Range(0, partitions[t]).Select(p => new TopicPartition(t, p))).ToList();
        var starts = consumer.OffsetsForTimesRetrying(all.Select(tp => new TopicPartitionTimestamp(tp, new Timestamp(from))).ToList(), Timeout);
        var ends = to is { } end
            ? consumer.OffsetsForTimesRetrying(all.Select(tp => new TopicPartitionTimestamp(tp, new Timestamp(end))).ToList(), Timeout).ToDictionary(o => o.TopicPartition, o => o.Offset)
            : new Dictionary<TopicPartition, Offset>();
        var stops = new Dictionary<TopicPartition, long>();
        foreach (var tp in all)
        {
            var high = consumer.QueryWatermarkOffsetsRetrying(tp, Timeout).High.Value;
            stops[tp] = ends.TryGetValue(tp, out var stop) && stop.Value >= 0 ? Math.Min(stop.Value, high) : high;
        }
        var filterByTimestamp = new HashSet<TopicPartition>();
        for (var i = 0; i < starts.Count; i++)
        {
            // -1: no record at or after `from`, unless the broker cannot look timestamps up (librdkafka's mock cluster):
            // then the partition's newest record tells, and the partition is scanned with a timestamp filter.
            var tp = starts[i].TopicPartition;
            if (starts[i].Offset.Value >= 0 || stops[tp] == 0 || NewestTimestamp(consumer, tp, stops[tp]) < from) continue;
            var low = consumer.QueryWatermarkOffsetsRetrying(tp, Timeout).Low.Value;
            starts[i] = new TopicPartitionOffset(tp, low);
            stops[tp] = consumer.QueryWatermarkOffsetsRetrying(tp, Timeout).High.Value;
            filterByTimestamp.Add(tp);
        }
        var assigned = starts.Where(s => s.Offset.Value >= 0 && s.Offset.Value < stops[s.TopicPartition]).ToList();

        using var producer = new ProducerBuilder<byte[]?, byte[]?>(CopyProducer(target)).Build();
        long copied = 0;
        var failed = 0;
        var remaining = assigned.Select(a => a.TopicPartition).ToHashSet();
        if (assigned.Count > 0) consumer.Assign(assigned);
        while (remaining.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null || result.IsPartitionEOF) continue;
            var tp = result.TopicPartition;
            if (!remaining.Contains(tp)) continue;
            if (result.Offset.Value >= stops[tp]) { remaining.Remove(tp); continue; }
            var timestamp = result.Message.Timestamp.UnixTimestampMs;
            var inRange = !filterByTimestamp.Contains(tp) ||
                (timestamp >= from.ToUnixTimeMilliseconds() && (to is not { } until || timestamp < until.ToUnixTimeMilliseconds()));
            if (!inRange)
            {
                if (result.Offset.Value + 1 >= stops[tp]) remaining.Remove(tp);
                continue;
            }
            producer.Produce(tp, new Message<byte[]?, byte[]?>
            {
                Key = result.Message.Key, Value = result.Message.Value, Timestamp = result.Message.Timestamp, Headers = result.Message.Headers,
            }, report => { if (report.Error.IsError) Interlocked.Increment(ref failed); });
            copied++;
            if (result.Offset.Value + 1 >= stops[tp]) remaining.Remove(tp);
        }
        producer.Flush(TimeSpan.FromMinutes(2));
        if (failed > 0) throw new InvalidOperationException($"replay: {failed} records could not be copied to the staging broker");
        // The new group's offsets record how far the replay read, for operators looking at the group.
        var progress = assigned.Select(a => new TopicPartitionOffset(a.TopicPartition, stops[a.TopicPartition])).ToList();
        if (progress.Count > 0) consumer.Commit(progress);
        consumer.Close();
        return copied;
    }

    private static DateTimeOffset NewestTimestamp(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, long high)
    {
        consumer.Assign(new TopicPartitionOffset(tp, high - 1));
        try
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (DateTime.UtcNow < deadline)
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } newest)
                    return DateTimeOffset.FromUnixTimeMilliseconds(newest.Message.Timestamp.UnixTimestampMs);
            throw new InvalidOperationException($"replay: could not read the newest record of {tp}");
        }
        finally
        {
            consumer.Unassign();
        }
    }

    /// <summary>The embedded broker keeps a bounded in-memory log per partition and silently drops the oldest records
    /// beyond it; a replay that lost records must not pass for a complete one.</summary>
    public static void EnsureNothingEvicted(string bootstrap, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaClientSettings.Plaintext(bootstrap).ConsumerConfig(new ConsumerConfig { GroupId = "cartrecovery-replay-check" })).Build();
        foreach (var topic in Contracts.Topics.Inputs)
            for (var p = 0; p < partitions; p++)
                if (consumer.QueryWatermarkOffsetsRetrying(new TopicPartition(topic, p), Timeout).Low.Value > 0)
                    throw new InvalidOperationException($"replay: the embedded broker dropped the oldest records of {topic} partition {p} (its in-memory log " +
                        "per partition is bounded); replay with more --partitions or split the input");
    }

    /// <summary>Copies a whole topic of the source to <paramref name="targetTopic"/> of the target (created with the
    /// source's partition count when missing), partition for partition.</summary>
    public static long Forward(KafkaClientSettings source, string sourceTopic, KafkaClientSettings target, string targetTopic, CancellationToken ct)
    {
        var partitionCount = PartitionCounts(source, [sourceTopic])[sourceTopic];
        EnsureTopic(target, targetTopic, partitionCount);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(source.ConsumerConfig(new ConsumerConfig
        {
            GroupId = "cartrecovery-replay-forward", EnableAutoCommit = false, EnablePartitionEof = true,
            IsolationLevel = IsolationLevel.ReadCommitted, FetchWaitMaxMs = 10,
        })).Build();
        var parts = Enumerable.Range(0, partitionCount).Select(p => new TopicPartition(sourceTopic, p)).ToList();
        var remaining = parts.Where(tp => consumer.QueryWatermarkOffsetsRetrying(tp, Timeout).High.Value > 0).ToHashSet();
        consumer.Assign(parts.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(CopyProducer(target)).Build();
        long forwarded = 0;
        var failed = 0;
        while (remaining.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            if (result.IsPartitionEOF) { remaining.Remove(result.TopicPartition); continue; }
            producer.Produce(new TopicPartition(targetTopic, result.Partition % EnsureTopic(target, targetTopic, partitionCount)), new Message<byte[]?, byte[]?>
            {
                Key = result.Message.Key, Value = result.Message.Value, Timestamp = result.Message.Timestamp, Headers = result.Message.Headers,
            }, report => { if (report.Error.IsError) Interlocked.Increment(ref failed); });
            forwarded++;
        }
        producer.Flush(TimeSpan.FromMinutes(2));
        if (failed > 0) throw new InvalidOperationException($"replay: {failed} records could not be published to {targetTopic}");
        return forwarded;
    }

    private static readonly Dictionary<(string, string), int> KnownTopics = new();

    /// <summary>Copies keep keys, partitions and order: idempotent, acks=all.</summary>
    private static ProducerConfig CopyProducer(KafkaClientSettings target) =>
        target.ProducerConfig(new ProducerConfig { EnableIdempotence = true, Acks = Acks.All, LingerMs = 5, CompressionType = CompressionType.Lz4 });

    /// <summary>Creates the topic if missing; returns its partition count.</summary>
    private static int EnsureTopic(KafkaClientSettings kafka, string topic, int partitions)
    {
        var bootstrap = kafka.BootstrapServers;
        lock (KnownTopics)
        {
            if (KnownTopics.TryGetValue((bootstrap, topic), out var known)) return known;
            using var admin = new AdminClientBuilder(kafka.AdminConfig()).Build();
            var existing = admin.GetMetadata(topic, Timeout).Topics.FirstOrDefault(t => t.Topic == topic);
            if (existing is null || existing.Error.IsError || existing.Partitions.Count == 0)
            {
                try
                {
                    admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = -1 }]).GetAwaiter().GetResult();
                }
                catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code == ErrorCode.TopicAlreadyExists)) { }
                existing = admin.GetMetadata(topic, Timeout).Topics.First(t => t.Topic == topic);
            }
            return KnownTopics[(bootstrap, topic)] = Math.Max(1, existing.Partitions.Count);
        }
    }
}
