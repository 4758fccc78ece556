using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Policy;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Records that stopped every partition of the worker on every restart (issue 21), published with a plain producer to
/// the real broker next to a shopper who abandons a cart: the worker drains to the end, exits 0, reminds the shopper,
/// and each bad record is one dead letter with its reason and a detail naming the field (and the limit).
/// </summary>
[Collection("processes")]
public sealed class HostileInputPipelineTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-e2e-hostile-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    private static string ValidCheckout(int n) =>
        $$"""{"type":"checkout_started","event_id":"v{{n}}","shopper_id":"x10","session_id":"x-sess","event_time":"2026-11-02T09:05:00Z"}""";

    private static (string, string?, byte[]) Raw(string topic, string key, string json) => (topic, key, Encoding.UTF8.GetBytes(json));

    [Fact]
    public async Task Poison_records_become_dead_letters_with_reasons_and_the_worker_goes_on()
    {
        const string head = "\"event_time\":\"2026-11-02T09:05:00Z\",\"session_id\":\"x-sess\"";
        var records = new List<(string Topic, string? Key, byte[] Value)>
        {
            Raw(Topics.OrderEvents, "x1", $$"""{"type":"order_placed","event_id":"x1","shopper_id":"x1",{{head}},"order_id":"o","total":1,"lines":[null]}"""),
            Raw(Topics.CartEvents, "x2", """{"type":"session_started","event_id":"e","event_id":"e"}"""),
            Raw(Topics.CartEvents, "x3", """{"type":"session_started","event_id":"x3","shopper_id":"x3","session_id":"x-sess","event_time":"0001-01-01T00:01:00Z"}"""),
            Raw(Topics.CartEvents, "x4", """{"type":"cart_line_added","event_id":"x4","shopper_id":"x4","session_id":"x-sess","event_time":"9999-12-31T23:59:00Z","line":{"sku":"A","unit_price":1,"quantity":1}}"""),
            Raw(Topics.CartEvents, "x5", "{\"type\":\"cart_line_added\",\"event_id\":\"x5\",\"shopper_id\":\"x5\"," + head + ""","line":{"sku":"gold","unit_price":1e28,"quantity":10}}"""),
            Raw(Topics.ConsentEvents, "x6", """{"type":"consent_granted","event_id":"x6","shopper_id":"x6","event_time":"2026-11-02T09:00:00Z","purpose":"cart_recovery","channel":"email","valid_until":"9999-12-31T23:59:00Z"}"""),
            Raw(Topics.CartEvents, "x7", $$"""{"type":"product_viewed","event_id":"x7","shopper_id":"x7",{{head}},"sku":"{{new string('s', 300)}}"}"""),
            (Topics.CartEvents, "x8", [.. "{\"type\":\"checkout_started\",\"event_id\":\""u8, 0xC3, 0x28, .. "\"}"u8]),
            Raw(Topics.CartEvents, "x9", "{\"type\":\"checkout_started\",\"x\":" + new string('[', 5_000)),
            Raw(Topics.CartEvents, "x10", "[" + ValidCheckout(1) + "]"),
        };
        var abandoner = new List<ShopperEvent>
        {
            new ConsentGranted { EventId = "a-consent", ShopperId = "abandoner", EventTime = T0.AddDays(-1), Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "v3" },
            new SessionStarted { EventId = "a-start", ShopperId = "abandoner", SessionId = "a-sess", EventTime = T0, TimeZone = "UTC" },
            new CartLineAdded { EventId = "a-add", ShopperId = "abandoner", SessionId = "a-sess", EventTime = T0.AddMinutes(1), Line = new CartLine { Sku = "lamp", Name = "Lamp", UnitPrice = 49.9m, Quantity = 1 } },
        };
        records.InsertRange(0, abandoner.Select(e => (e is ConsentEvent ? Topics.ConsentEvents : Topics.CartEvents, (string?)e.ShopperId, ContractJson.SerializeEvent(e))));
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, records);

        var policyFile = Path.Combine(_data, "policy.json");
        await File.WriteAllTextAsync(policyFile, PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--policy", policyFile);
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);

        var reminders = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT shopper_id, step FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY step"));
        Assert.Contains("abandoner\t1", reminders);
        Assert.All(reminders, r => Assert.StartsWith("abandoner\t", r));

        var letters = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT topic, reason, detail FROM dead_letters FINAL ORDER BY topic, detail"));
        Assert.Equal(records.Count - abandoner.Count, letters.Length);
        Assert.Contains($"{Topics.OrderEvents}\tinvalid_field\tlines must not hold null", letters);
        Assert.Contains($"{Topics.CartEvents}\tinvalid_field\tduplicate property at $.event_id", letters);
        Assert.Equal(2, letters.Count(l => l == $"{Topics.CartEvents}\tinvalid_field\tevent_time must be {EntryLimits.TimeWindow}"));
        Assert.Contains($"{Topics.CartEvents}\tinvalid_field\tline needs unit_price between 0 and {EntryLimits.MaxUnitPrice}", letters);
        Assert.Contains(letters, l => l.StartsWith($"{Topics.ConsentEvents}\tinvalid_field\tvalid_until must be between", StringComparison.Ordinal));
        Assert.Contains($"{Topics.CartEvents}\tinvalid_field\tsku is longer than {EntryLimits.MaxIdLength} characters", letters);
        Assert.Contains($"{Topics.CartEvents}\tnot_json\tnot valid UTF-8", letters);
        Assert.Contains($"{Topics.CartEvents}\tnot_json\tnested deeper than 64 levels", letters);
        Assert.Contains($"{Topics.CartEvents}\tnot_json\tnot a JSON object", letters);
    }

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
