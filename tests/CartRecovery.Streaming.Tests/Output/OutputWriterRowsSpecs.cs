using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Time;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Kafka.Native;
using CartRecovery.Storage;
using CartRecovery.Storage.Embedded;
using CartRecovery.Streaming.Ingest;
using CartRecovery.Streaming.Output;
using Confluent.Kafka;
using static CartRecovery.Streaming.Actors.PartitionProtocol;

namespace CartRecovery.Streaming.Tests.Output;

/// <summary>One chDB engine for the class: a process opens one chDB data directory; the tests isolate by database.</summary>
public sealed class OutputEngineFixture : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cartrecovery-output-").FullName;

    public OutputEngineFixture() => Engine = EmbeddedClickHouse.Open(_directory);

    public EmbeddedClickHouse Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// The writer's rows, serialised once as UTF-8 into pooled buffers and handed to the store as bytes, on the real
/// embedded engine and a real producer (librdkafka's mock cluster): every table holds exactly what the one serializer's
/// string rows (ContractJson, the rows of earlier releases) put there, non-ASCII text and a trigger at the record
/// size bound included, and consecutive flushes on reused pool memory each write their own rows and nothing else.
/// </summary>
public sealed class OutputWriterRowsSpecs : IClassFixture<OutputEngineFixture>, IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);
    private const string Unusual = "Zoë's \"cart\"\n\t– 🛒 \\ \u0001 ünïcödé 漢字";
    private static readonly string[] AllTables = [.. Tables.All, Tables.AuditChainHeads];

    private readonly OutputEngineFixture _fixture;
    private readonly MockKafkaCluster _broker;
    private readonly IProducer<string, byte[]> _producer;
    private readonly WorkerMetrics _metrics = new();
    private readonly OutputSettings _settings = new();

    public OutputWriterRowsSpecs(OutputEngineFixture fixture)
    {
        _fixture = fixture;
        LibrdkafkaLibrary.EnsureLoaded();
        _broker = MockKafkaCluster.Start();
        foreach (var topic in new[] { Topics.RecoveryTriggers, Topics.DeadLetter, Topics.CartEvents }) _broker.CreateTopic(topic, 1);
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, EnableIdempotence = true }).Build();
    }

    [Fact]
    public async Task Every_table_holds_what_the_one_serializer_writes_for_the_same_rows()
    {
        await using var written = await FreshStoreAsync();
        await using var reference = await FreshStoreAsync();
        var writer = new OutputWriter(written, _producer, _settings, _metrics, ComplianceKeys.Development);
        var batch = Batch("a", lines: 3, bodyChars: 2_000_000); // a message body far past the record bound: cut to fit

        await writer.FlushAsync([writer.Publish(batch)], CancellationToken.None);
        await WriteAsSerializerStringsAsync(reference, batch);

        foreach (var table in AllTables)
        {
            var rows = await Rows(written, table);
            Assert.NotEmpty(rows);
            Assert.Equal(await Rows(reference, table), rows);
        }
        // The text came through unchanged, not merely the same way twice.
        Assert.Equal([Base64(Unusual)], await Rows(written, "audit_log", "base64Encode(detail)"));
        Assert.Equal([Base64(Unusual)], await Rows(written, "dead_letters", "base64Encode(detail)"));
        Assert.Equal([Base64(Unusual)], await Rows(written, "outcome_events", "base64Encode(free_text)"));
        Assert.Equal([Base64($"shopper-a-{Unusual}")], await Rows(written, "session_outcomes", "base64Encode(shopper_id)"));
        // The big trigger's row is its Kafka record: fitted to the bound, its body cut, the rest whole.
        var fitted = Fitted(batch.Triggers[^1]);
        Assert.True(fitted.Json.Length <= _settings.MaxRecordBytes, $"{fitted.Json.Length} bytes");
        Assert.InRange(fitted.Json.Length, _settings.MaxRecordBytes / 2, _settings.MaxRecordBytes);
        Assert.True(fitted.Trigger.MessageBody.Length < batch.Triggers[^1].MessageBody.Length);
        Assert.Equal([Base64(fitted.Trigger.MessageBody)],
            await Rows(written, "recovery_triggers", "base64Encode(message_body)", $"trigger_id = '{fitted.Trigger.TriggerId}'"));
    }

    [Theory]
    [InlineData(OutputWriter.DefaultInsertPartBytes)]
    [InlineData(2_000)] // every few rows a part of its own: the buffer is cleared and refilled within a flush
    public async Task Consecutive_flushes_write_each_their_own_rows_on_reused_buffers(int insertPartBytes)
    {
        await using var written = await FreshStoreAsync();
        await using var reference = await FreshStoreAsync();
        var writer = new OutputWriter(written, _producer, _settings, _metrics, ComplianceKeys.Development) { InsertPartBytes = insertPartBytes };
        // A large flush first, so the second one's smaller rows land on memory that held longer ones.
        var first = Batch("big", lines: 40, bodyChars: 300_000);
        var second = Batch("small", lines: 1, bodyChars: 10);

        await writer.FlushAsync([writer.Publish(first)], CancellationToken.None);
        var afterFirst = new Dictionary<string, string[]>();
        foreach (var table in AllTables) afterFirst[table] = await Rows(written, table);
        await writer.FlushAsync([writer.Publish(second), writer.Publish(Batch("small-2", lines: 2, bodyChars: 20))], CancellationToken.None);

        await WriteAsSerializerStringsAsync(reference, first);
        foreach (var table in AllTables) Assert.Equal(await Rows(reference, table), afterFirst[table]);
        await WriteAsSerializerStringsAsync(reference, second);
        await WriteAsSerializerStringsAsync(reference, Batch("small-2", lines: 2, bodyChars: 20));
        foreach (var table in AllTables) Assert.Equal(await Rows(reference, table), await Rows(written, table));
        Assert.Equal(["trigger-big-0", "trigger-big-1", "trigger-small-0", "trigger-small-1", "trigger-small-2-0", "trigger-small-2-1"],
            await Rows(written, "recovery_triggers", "trigger_id"));
        Assert.Equal(2, writer.FlushCount);
    }

    /// <summary>A decided batch with rows for every table: two triggers (the second with <paramref name="lines"/> cart
    /// lines and a message body of <paramref name="bodyChars"/> characters), a linked audit row (its chain head is
    /// anchored), an outcome, a dead letter, an outcome event and a profile; the text fields carry <see cref="Unusual"/>.</summary>
    private static BatchCompleted Batch(string name, int lines, int bodyChars)
    {
        var shopper = $"shopper-{name}-{Unusual}";
        var trigger = new RecoveryTrigger
        {
            TriggerId = $"trigger-{name}-0", Kind = "reminder", ShopperId = shopper, SessionId = $"session-{name}", Step = 1, Channel = "email",
            Score = 0.8125, TopFactors = ["idle:+1.50"], Reason = "abandoned", PolicyVersion = "p-1", EventTime = T0, DueTime = T0.AddMinutes(30),
            CartLines = [new CartLine { Sku = "sku-ä", Name = Unusual, UnitPrice = 49.9m, Quantity = 1 }], CartValue = 49.9m, Currency = "EUR",
            MessageSubject = Unusual, MessageBody = Unusual,
        };
        var big = trigger with
        {
            TriggerId = $"trigger-{name}-1", Step = 2,
            CartLines = [.. Enumerable.Range(0, lines).Select(i => new CartLine { Sku = $"sku-{i}", Name = $"{Unusual} {i}", UnitPrice = 2.55m, Quantity = i + 1 })],
            MessageBody = string.Concat(Enumerable.Repeat("Grüße 🛒 ", bodyChars / 9 + 1))[..bodyChars],
        };
        var audit = new AuditRecord
        {
            AuditId = $"audit-{name}", ShopperId = shopper, Decision = AuditDecisions.Suppressed, Reason = "quiet_hours", PolicyVersion = "p-1",
            Detail = Unusual, EventTime = T0.AddTicks(1_234_567), Evidence = ["evt-1", "evt-ü"],
            ShopperPseudonym = $"ps_{name}", ChainVersion = AuditChain.CurrentVersion, ChainRoot = $"root-{name}", ChainSeq = 3, ChainHash = $"hash-{name}",
        };
        var outcome = new SessionOutcome
        {
            SessionId = $"session-{name}", ShopperId = shopper, OriginChannel = "instagram", FurthestStep = "checkout", Outcome = Outcomes.Browsed,
            PolicyVersion = "p-1", StartedAt = T0, EndedAt = T0.AddHours(1), CartValue = 55m, Currency = "EUR",
        };
        var letter = new DeadLetter
        {
            DeadLetterId = $"dead-{name}", Topic = Topics.CartEvents, Partition = 0, Offset = 41, Reason = "not_json", Detail = Unusual,
            PayloadSha256 = "ab12", ReceivedAt = T0,
        };
        var outcomeRow = new OutcomeRecord
        {
            EventId = $"outcome-{name}", Type = "survey_answered", ShopperId = shopper, Matched = true, FreeText = Unusual, Satisfaction = 4, EventTime = T0,
        };
        var profile = new ShopperProfileRow { ShopperId = shopper, Segment = "new", ChurnRisk = 0.25, UpdatedAt = T0, TopCategories = ["lämps"] };
        return new BatchCompleted(0, 1, [trigger, big], [audit], [outcome],
            [new InputRecord(Topics.CartEvents, 0, 41, null, letter, Encoding.UTF8.GetBytes(shopper), Encoding.UTF8.GetBytes($"not json {Unusual}"))],
            Watermark.Start, 1, 0, 1, OutcomeRows: [outcomeRow], Profiles: [profile]);
    }

    private (RecoveryTrigger Trigger, byte[] Json) Fitted(RecoveryTrigger trigger) =>
        OutputLimits.FitTrigger(trigger, _settings.MaxRecordBytes - OutputLimits.RecordOverheadBytes - Encoding.UTF8.GetByteCount(trigger.ShopperId));

    /// <summary>The batch's rows as the session-10 writer made them: one ContractJson string per row.</summary>
    private async Task WriteAsSerializerStringsAsync(IAnalyticsStore store, BatchCompleted batch)
    {
        var ct = CancellationToken.None;
        await store.InsertJsonEachRowAsync(Tables.RecoveryTriggers, [.. batch.Triggers.Select(t => ContractJson.Serialize(Fitted(t).Trigger))], ct);
        await store.InsertJsonEachRowAsync(Tables.AuditLog, [.. batch.Audits.Select(ContractJson.Serialize)], ct);
        await store.InsertJsonEachRowAsync(Tables.AuditChainHeads, [.. AuditChainAnchors.HeadsOf(batch.Audits, ComplianceKeys.Development).Select(ContractJson.Serialize)], ct);
        await store.InsertJsonEachRowAsync(Tables.SessionOutcomes, [.. batch.Outcomes.Select(ContractJson.Serialize)], ct);
        await store.InsertJsonEachRowAsync(Tables.DeadLetters, [.. batch.DeadLetters.Select(d => ContractJson.Serialize(d.Rejected!))], ct);
        await store.InsertJsonEachRowAsync(Tables.OutcomeEvents, [.. batch.OutcomeRows!.Select(ContractJson.Serialize)], ct);
        await store.InsertJsonEachRowAsync(Tables.ShopperProfiles, [.. batch.Profiles!.Select(ContractJson.Serialize)], ct);
    }

    private async Task<ChDbAnalyticsStore> FreshStoreAsync()
    {
        var store = new ChDbAnalyticsStore(_fixture.Engine, new AnalyticsStoreOptions { Database = "rows_" + Guid.NewGuid().ToString("N")[..12] }, ownsEngine: false);
        await store.EnsureSchemaAsync(CancellationToken.None);
        return store;
    }

    /// <summary>Every row of <paramref name="table"/> (all its stored columns, or <paramref name="columns"/>), one line each, sorted.</summary>
    private static async Task<string[]> Rows(IAnalyticsStore store, string table, string columns = "*", string where = "1")
    {
        var text = await store.QueryAsync($"SELECT {columns} FROM {table} WHERE {where}", "TabSeparated", CancellationToken.None);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)];
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    public void Dispose()
    {
        _producer.Dispose();
        _broker.Dispose();
        _metrics.Dispose();
    }
}
