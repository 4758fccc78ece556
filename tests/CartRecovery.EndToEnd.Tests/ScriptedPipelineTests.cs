using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Policy;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// The whole path on real parts: librdkafka's mock cluster (a Kafka-protocol broker on loopback), the worker
/// CLI as its own process, the chDB engine under the worker's --data directory, read back with the query CLI.
/// </summary>
[Collection("processes")]
public sealed class ScriptedPipelineTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-e2e-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Abandoner_gets_reminders_buyer_gets_none_garbage_is_dead_lettered_opt_out_and_chat_are_honoured()
    {
        var events = new List<ShopperEvent>();
        // Abandoner: email consent, two lines in the cart, then silence. Steps at +1 h and +24 h (plus 5 min grace).
        events.AddRange(Consent<ConsentGranted>("abandoner", "email", T0.AddDays(-3), "a-consent"));
        events.AddRange(Session("abandoner", "a-sess", T0, "a", ("sku-lamp", 49.90m), ("sku-bulb", 5.10m)));
        // Buyer: pays for the cart a few minutes later.
        events.AddRange(Session("buyer", "b-sess", T0.AddMinutes(2), "b", ("sku-book", 20m)));
        events.Add(new OrderPlaced { EventId = "b-order", ShopperId = "buyer", SessionId = "b-sess", EventTime = T0.AddMinutes(6), OrderId = "o-1", Total = 20m });
        // Opt-out: push consent, step 1 goes by push, unsubscribes before step 2.
        events.AddRange(Consent<ConsentGranted>("optout", "push", T0.AddDays(-1), "o-consent"));
        events.AddRange(Session("optout", "o-sess", T0.AddMinutes(1), "o", ("sku-shoe", 80m)));
        events.AddRange(Consent<Unsubscribed>("optout", "push", T0.AddHours(5), "o-unsub"));
        // Two payment failures on checkout: proactive chat on the second one.
        events.AddRange(Session("payer", "p-sess", T0.AddMinutes(3), "p", ("sku-tv", 640m)));
        events.Add(new CheckoutStarted { EventId = "p-checkout", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(4) });
        events.Add(new PaymentFailed { EventId = "p-fail-1", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(5), ErrorCode = "card_declined" });
        events.Add(new PaymentFailed { EventId = "p-fail-2", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(6), ErrorCode = "3ds_failed" });
        events.Add(new OrderPlaced { EventId = "p-order", ShopperId = "payer", SessionId = "p-sess", EventTime = T0.AddMinutes(8), OrderId = "o-2", Total = 640m });
        // Something far in the event-time future closes the 24 h window for everyone.
        events.AddRange(Session("late-visitor", "l-sess", T0.AddDays(3), "l"));

        var records = events.OrderBy(e => e.EventTime)
            .Select(e => (Topic(e), (string?)e.ShopperId, ContractJson.SerializeEvent(e)))
            .Append((Topics.CartEvents, "garbage", Encoding.UTF8.GetBytes("{not json")))
            .ToList();
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, records);

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile);
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);

        // Kafka: exactly these triggers, with deterministic content.
        var triggers = ReadTopic(Topics.RecoveryTriggers).Select(m => ContractJson.DeserializeTrigger(m.Message.Value)).OrderBy(t => t.ShopperId).ThenBy(t => t.Step).ToList();
        Assert.Equal(
            ["abandoner/reminder/1/email", "abandoner/reminder/2/email", "optout/reminder/1/push", "payer/proactive_chat/0/chat"],
            triggers.Select(t => $"{t.ShopperId}/{t.Kind}/{t.Step}/{t.Channel}"));
        var first = triggers[0];
        // last activity at +2 min (second line), abandoned 30 min later, step 1 due 1 h after that, sent after the 5 min grace
        Assert.Equal(T0.AddMinutes(2 + 30 + 60 + 5), first.EventTime);
        Assert.Equal(T0.AddMinutes(2 + 30 + 60), first.DueTime);
        Assert.Equal(55.00m, first.CartValue);
        Assert.Equal(["sku-bulb", "sku-lamp"], first.CartLines.Select(l => l.Sku));
        Assert.Equal("a-consent", first.ConsentEventId);
        Assert.InRange(first.Score, 0, 1);
        Assert.NotEmpty(first.TopFactors);
        Assert.Equal(T0.AddDays(1).AddMinutes(2 + 30 + 5), triggers[1].EventTime);
        var chat = triggers[3];
        Assert.Equal(T0.AddMinutes(6), chat.EventTime);
        Assert.Equal(["card_declined", "3ds_failed"], chat.PaymentErrorCodes);
        Assert.Equal("payment", chat.FunnelStep);

        // Dead letter: the original bytes and the reason.
        var letter = Assert.Single(ReadTopic(Topics.DeadLetter));
        Assert.Equal("{not json", Encoding.UTF8.GetString(letter.Message.Value));
        Assert.Equal(RejectReasons.NotJson, Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("reason")));

        // ClickHouse (chDB): exactly the same triggers, the audit trail, the outcomes.
        var stored = await Cli.QueryTsvAsync(_data, "SELECT shopper_id, kind, step, channel, trigger_id FROM recovery_triggers FINAL ORDER BY shopper_id, step");
        Assert.Equal(triggers.Select(t => $"{t.ShopperId}\t{t.Kind}\t{t.Step}\t{t.Channel}\t{t.TriggerId}"), Lines(stored));

        var suppressions = await Cli.QueryTsvAsync(_data, "SELECT shopper_id, step, reason, arrayStringConcat(evidence, ',') FROM audit_log FINAL WHERE decision = 'suppressed' ORDER BY shopper_id, step");
        Assert.Equal(["optout\t2\tconsent_withdrawn\to-unsub"], Lines(suppressions));

        var outcomes = await Cli.QueryTsvAsync(_data, "SELECT shopper_id, origin_channel, furthest_step, cart_value, outcome FROM session_outcomes FINAL ORDER BY shopper_id");
        Assert.Equal(
        [
            "abandoner\tweb\tcart\t55\tabandoned",
            "buyer\tweb\tcart\t20\tordered",
            "late-visitor\tweb\tbrowsing\t0\tbrowsed",
            "optout\tweb\tcart\t80\tabandoned",
            "payer\tweb\tpayment\t640\tordered",
        ], Lines(outcomes));

        var deadLetters = await Cli.QueryTsvAsync(_data, "SELECT topic, reason FROM dead_letters FINAL");
        Assert.Equal(["cart-events\tnot_json"], Lines(deadLetters));
    }

    private static string Topic(ShopperEvent e) => e switch
    {
        ConsentEvent => Topics.ConsentEvents,
        OrderPlaced or PaymentAuthorized => Topics.OrderEvents,
        _ => Topics.CartEvents,
    };

    private static IEnumerable<ShopperEvent> Session(string shopper, string session, DateTimeOffset start, string idPrefix, params (string Sku, decimal Price)[] cart)
    {
        yield return new SessionStarted { EventId = $"{idPrefix}-start", ShopperId = shopper, SessionId = session, EventTime = start, TimeZone = "UTC" };
        var minute = 1;
        foreach (var (sku, price) in cart)
            yield return new CartLineAdded
            {
                EventId = $"{idPrefix}-add-{sku}", ShopperId = shopper, SessionId = session, EventTime = start.AddMinutes(minute++),
                Line = new CartLine { Sku = sku, Name = sku, UnitPrice = price, Quantity = 1 },
            };
    }

    private static IEnumerable<ShopperEvent> Consent<T>(string shopper, string channel, DateTimeOffset at, string id) where T : ConsentEvent
    {
        ConsentEvent consent = typeof(T) == typeof(ConsentGranted)
            ? new ConsentGranted { EventId = id, ShopperId = shopper, EventTime = at, Purpose = "cart_recovery", Channel = channel, Source = "checkout_form", WordingVersion = "v3" }
            : new Unsubscribed { EventId = id, ShopperId = shopper, EventTime = at, Purpose = "cart_recovery", Channel = channel, Source = "email_link", WordingVersion = "v3" };
        yield return consent;
    }

    private static string[] Lines(string tsv) => tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];

    private List<ConsumeResult<string, byte[]>> ReadTopic(string topic)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _broker.BootstrapServers, GroupId = "e2e-reader-" + Guid.NewGuid(), EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest, IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        var partitions = Enumerable.Range(0, topic == Topics.DeadLetter ? 1 : 3).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)).ToList();
        consumer.Assign(partitions);
        var atEnd = new HashSet<int>();
        var messages = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (atEnd.Count < partitions.Count && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            if (result.IsPartitionEOF) atEnd.Add(result.Partition.Value);
            else messages.Add(result);
        }
        Assert.Equal(partitions.Count, atEnd.Count);
        return messages;
    }

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
