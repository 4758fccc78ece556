using System.Security.Cryptography;
using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Policy;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Configuration;
using CartRecovery.Kafka.Embedded;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Every output fits (issue 21): records whose outputs would exceed librdkafka's message.max.bytes (1,000,000 bytes) used
/// to stop the worker on every restart. On the real embedded broker and the worker CLI: a 1.5 MB input record, a cart of
/// 20 lines with 60,000-character skus, and the identity hand-over of a 10,000-line cart, in one drain that must end 0.
/// </summary>
[Collection("processes")]
public sealed class OutputSizeTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-sizes-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Huge_input_huge_lines_and_a_ten_thousand_line_hand_over_all_fit_and_the_drain_ends()
    {
        var events = new List<ShopperEvent>();
        // A cart of 20 lines at the longest sku and name entry allows (EntryLimits): its reminders fit as they are.
        events.Add(Consent("bigsku", T0.AddDays(-1), "big-consent"));
        events.Add(new SessionStarted { EventId = "big-start", ShopperId = "bigsku", SessionId = "big-sess", EventTime = T0, TimeZone = "UTC" });
        for (var i = 0; i < 20; i++)
            events.Add(new CartLineAdded
            {
                EventId = $"big-add-{i}", ShopperId = "bigsku", SessionId = "big-sess", EventTime = T0.AddSeconds(1 + i),
                Line = new CartLine { Sku = $"{i:D2}" + new string('s', EntryLimits.MaxIdLength - 2), Name = new string('n', EntryLimits.MaxNameLength), UnitPrice = 10m, Quantity = 1 },
            });
        // The tester's 60,000-character sku (under the 64 KiB record limit) is refused at entry, naming the field.
        events.Add(new SessionStarted { EventId = "long-start", ShopperId = "longsku", SessionId = "long-sess", EventTime = T0, TimeZone = "UTC" });
        events.Add(new CartLineAdded
        {
            EventId = "long-add", ShopperId = "longsku", SessionId = "long-sess", EventTime = T0.AddSeconds(1),
            Line = new CartLine { Sku = new string('s', 60_000), Name = "item", UnitPrice = 10m, Quantity = 1 },
        });
        // An anonymous device with a 10,000-line cart, then linked to a customer: its hand-over is about a megabyte.
        events.Add(Consent("anon", T0.AddDays(-1), "anon-consent"));
        events.Add(new SessionStarted { EventId = "anon-start", ShopperId = "anon", SessionId = "anon-sess", EventTime = T0, TimeZone = "UTC" });
        for (var i = 0; i < 10_000; i++)
            events.Add(new CartLineAdded
            {
                EventId = $"anon-add-{i}", ShopperId = "anon", SessionId = "anon-sess", EventTime = T0.AddMilliseconds(100 + i),
                Line = new CartLine { Sku = $"sku-{i:D5}", Name = $"item {i}", UnitPrice = 1m, Quantity = 1 },
            });
        events.Add(new IdentityLinked
        {
            EventId = "anon-link", ShopperId = "anon", AnonymousId = "anon", CustomerId = "cust", Source = "login", SessionId = "anon-sess",
            EventTime = T0.AddMinutes(1),
        });
        var records = events.OrderBy(e => e.EventTime)
            .Select(e => (Topic(e), (string?)e.ShopperId, ContractJson.SerializeEvent(e)))
            .ToList();
        // A record without a key, valid otherwise: it could sit on any partition, so it is a dead letter.
        var keyless = new SessionStarted { EventId = "keyless", ShopperId = "nokey", SessionId = "nk", EventTime = T0, TimeZone = "UTC" };
        records.Add((Topics.CartEvents, null, ContractJson.SerializeEvent(keyless)));
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, records);
        // 1.5 MB in one record (a producer allowed to send it, as kcat with -X message.max.bytes was).
        var huge = Encoding.UTF8.GetBytes("{\"type\":\"session_started\",\"pad\":\"" + new string('x', 1_500_000) + "\"}");
        using (var producer = new ProducerBuilder<string, byte[]>(KafkaClientSettings.Plaintext(_broker.BootstrapServers)
                   .ProducerConfig(new ProducerConfig { MessageMaxBytes = 2_000_000, CompressionType = CompressionType.Lz4 })).Build())
        {
            producer.Produce(Topics.CartEvents, new Message<string, byte[]> { Key = "huge", Value = huge });
            producer.Flush(TimeSpan.FromMinutes(1));
        }

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(6), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile);
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.True(run.ExitCode == 0, run.ToString());

        // The huge record: one dead letter carrying its first 64 KiB and the digest of the whole, not the 1.5 MB.
        var deadLetters = ReadTopic(Topics.DeadLetter);
        var hugeLetter = Assert.Single(deadLetters, d => d.Message.Key == "huge");
        Assert.Equal("oversized", Header(hugeLetter, "reason"));
        Assert.Equal("true", Header(hugeLetter, "payload_truncated"));
        Assert.Equal(huge.Length.ToString(), Header(hugeLetter, "payload_bytes"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(huge)), Header(hugeLetter, "payload_sha256"));
        Assert.Equal(huge[..OutputLimits.DeadLetterValueBytes], hugeLetter.Message.Value);
        // The keyless record: dead-lettered with its reason.
        var keylessLetter = Assert.Single(deadLetters, d => d.Message.Key is null);
        Assert.Equal(RejectReasons.MissingField, Header(keylessLetter, "reason"));
        Assert.Contains("record key is missing", Header(keylessLetter, "detail"));
        var longSku = Assert.Single(deadLetters, d => d.Message.Key == "longsku");
        Assert.Equal(RejectReasons.InvalidField, Header(longSku, "reason"));
        Assert.Contains("sku", Header(longSku, "detail"));
        // Nothing of the worker's own records was refused as too large.
        Assert.DoesNotContain(deadLetters, d => d.Message.Key is "cust" or "anon" or "bigsku");

        var triggers = ReadTopic(Topics.RecoveryTriggers);
        Assert.All(triggers, t => Assert.True(t.Message.Value.Length < OutputLimits.DefaultMaxRecordBytes));
        // The 60,000-character skus: the reminders went out, listing the lines that fit and counting the others.
        var big = triggers.Select(t => ContractJson.DeserializeTrigger(t.Message.Value)).Where(t => t.ShopperId == "bigsku" && t.Kind == TriggerKinds.Reminder).ToList();
        Assert.NotEmpty(big);
        Assert.All(big, t =>
        {
            Assert.Equal(20, t.CartLines.Count);
            Assert.Equal(0, t.CartLinesOmitted);
            Assert.Equal(200m, t.CartValue);
        });
        // The hand-over of the 10,000-line cart arrived whole: the customer's reminder is for all 10,000 lines
        // (the first 100 listed), under the consent the device gave.
        var merged = triggers.Select(t => ContractJson.DeserializeTrigger(t.Message.Value)).Where(t => t.ShopperId == "cust" && t.Kind == TriggerKinds.Reminder).ToList();
        Assert.NotEmpty(merged);
        Assert.All(merged, t =>
        {
            Assert.Equal(OutputLimits.MaxTriggerLines, t.CartLines.Count);
            Assert.Equal(10_000 - OutputLimits.MaxTriggerLines, t.CartLinesOmitted);
            Assert.Equal(10_000m, t.CartValue);
            Assert.Equal("anon-consent", t.ConsentEventId);
        });
        // It travelled in parts of the input record size.
        var parts = ReadTopic(Topics.CartEvents, partitions: 3).Where(m => m.Message.Headers?.TryGetLastBytes(SplitRecords.PartHeader, out _) == true).ToList();
        Assert.True(parts.Count > 1, "a hand-over of about a megabyte is split");
        Assert.All(parts, p => Assert.True(p.Message.Value.Length <= EventParser.MaxEventBytes));
        // The analytics store holds the same fitted rows.
        var stored = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT shopper_id, length(cart_lines), cart_lines_omitted FROM recovery_triggers FINAL WHERE kind = 'reminder' AND shopper_id = 'cust'"));
        Assert.NotEmpty(stored);
        Assert.All(stored, row => Assert.Equal($"cust\t{OutputLimits.MaxTriggerLines}\t{10_000 - OutputLimits.MaxTriggerLines}", row));
    }

    private static ConsentGranted Consent(string shopper, DateTimeOffset at, string id) => new()
    {
        EventId = id, ShopperId = shopper, EventTime = at, Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "v3",
    };

    private static string Topic(ShopperEvent e) => e switch
    {
        ConsentEvent => Topics.ConsentEvents,
        OrderPlaced or PaymentAuthorized => Topics.OrderEvents,
        _ => Topics.CartEvents,
    };

    private static string Header(ConsumeResult<string, byte[]> message, string name) =>
        message.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";

    private List<ConsumeResult<string, byte[]>> ReadTopic(string topic, int? partitions = null)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _broker.BootstrapServers, GroupId = "sizes-reader-" + Guid.NewGuid(), EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        var assigned = Enumerable.Range(0, partitions ?? (topic == Topics.DeadLetter ? 1 : 3)).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)).ToList();
        consumer.Assign(assigned);
        var atEnd = new HashSet<int>();
        var messages = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (atEnd.Count < assigned.Count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            if (result.IsPartitionEOF) atEnd.Add(result.Partition.Value);
            else messages.Add(result);
        }
        Assert.Equal(assigned.Count, atEnd.Count);
        return messages;
    }

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
