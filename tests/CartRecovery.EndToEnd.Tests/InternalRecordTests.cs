using System.Text;
using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Decisions;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.Policy;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using CartRecovery.Streaming.Checkpointing;
using CartRecovery.Streaming.Ingest;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Records only the worker writes (identity hand-overs) on the real parts: a storefront-side Kafka client publishes
/// hand-overs to cart-events that the worker never wrote (unsigned, with a made-up MAC, and a signed one altered
/// afterwards), the worker CLI runs in production mode with configured keys, and none of them is adopted: each is a dead
/// letter and an audit row, and no reminder cites the grant they carried. A hand-over signed with the configured key is
/// adopted, so the refusals are the MAC's doing. Also: the worker refuses to start without keys.
/// </summary>
[Collection("processes")]
public sealed class InternalRecordTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-internal-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    // Production mode: configured keys, no development flag.
    private static readonly Dictionary<string, string?> Production = new()
    {
        [Cli.DevelopmentKeysVariable] = null,
        ["CARTRECOVERY_Compliance__TokenKey"] = "test-token-key-0123456789abcdef",
        ["CARTRECOVERY_Compliance__PseudonymKey"] = "test-pseudonym-key-0123456789ab",
        ["CARTRECOVERY_Compliance__RecordKey"] = "test-record-key-0123456789abcdef",
    };
    private static readonly ComplianceKeys Keys = new(Production["CARTRECOVERY_Compliance__TokenKey"]!,
        Production["CARTRECOVERY_Compliance__PseudonymKey"]!, Production["CARTRECOVERY_Compliance__RecordKey"]!);

    [Fact]
    public async Task Forged_unsigned_and_tampered_hand_overs_are_dead_lettered_and_audited_never_adopted()
    {
        string[] victims = ["victim-unsigned", "victim-forged-mac", "victim-tampered"];
        const string control = "genuine-customer";
        var records = new List<(string Shopper, byte[] Value, Headers Headers)>();
        foreach (var shopper in victims.Append(control))
        {
            var value = ContractJson.SerializeEvent(HandOver(shopper, $"grant-{shopper}"));
            var headers = new Headers { { OutputWriterHeader, [1] } };
            switch (shopper)
            {
                case "victim-unsigned":
                    break;
                case "victim-forged-mac":
                    headers.Add(InternalRecords.MacHeader, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
                    break;
                case "victim-tampered":
                    // Signed as the worker would, then altered on the way: the grant's id replaced.
                    headers.Add(InternalRecords.MacHeader, InternalRecords.Sign(Keys, Topics.CartEvents, shopper, value));
                    value = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(value).Replace($"grant-{shopper}", "forged-consent"));
                    break;
                default:
                    headers.Add(InternalRecords.MacHeader, InternalRecords.Sign(Keys, Topics.CartEvents, shopper, value));
                    break;
            }
            records.Add((shopper, value, headers));
        }
        // Each shopper has a cart and never consented: only an adopted grant could make a reminder go out.
        var carts = victims.Append(control).SelectMany(s => Cart(s)).OrderBy(e => e.EventTime).ToList();
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, [.. carts.Select(e => (Topics.CartEvents, (string?)e.ShopperId, ContractJson.SerializeEvent(e)))]);
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var (shopper, value, headers) in records)
                await producer.ProduceAsync(Topics.CartEvents, new Message<string, byte[]> { Key = shopper, Value = value, Headers = headers });
        }

        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), Production,
            "worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain", "--group", "internal-" + Guid.NewGuid().ToString("N")[..8]);
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);

        var letters = Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT reason, detail FROM dead_letters FINAL WHERE topic = 'cart-events' ORDER BY detail")).Select(r => r.Split('\t')).ToList();
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.Equal("unauthenticated_internal_record", l[0]));
        Assert.Single(letters, l => l[1].StartsWith("unsigned", StringComparison.Ordinal));
        Assert.Equal(2, letters.Count(l => l[1].Contains("does not match", StringComparison.Ordinal)));

        var refused = Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT shopper_id, reason FROM audit_log FINAL WHERE decision = 'input_refused' ORDER BY shopper_id")).Select(r => r.Split('\t')).ToList();
        Assert.Equal(victims.Order(StringComparer.Ordinal), refused.Select(r => r[0]));
        Assert.All(refused, r => Assert.Equal("unauthenticated_internal_record", r[1]));

        // No victim was reminded; the genuine hand-over was adopted and its grant cited.
        var reminded = Cli.Rows(await Cli.QueryTsvAsync(_data,
            "SELECT shopper_id, consent_event_id FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY shopper_id")).Select(r => r.Split('\t')).ToList();
        Assert.DoesNotContain(reminded, r => victims.Contains(r[0]) || r[1] is "forged-consent" || r[1].StartsWith("grant-victim", StringComparison.Ordinal));
        Assert.Contains(reminded, r => r[0] == control && r[1] == $"grant-{control}");
        Assert.Empty(Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT audit_id FROM audit_log FINAL WHERE decision = 'identity_merged' AND shopper_id LIKE 'victim%'")));

        // The refusals are chained like every audit row.
        var verify = await Cli.RunAsync(TimeSpan.FromMinutes(2), Production, "audit", "verify", "--data", _data);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Theory]
    [InlineData("worker")]
    [InlineData("audit")]
    public async Task Without_configured_keys_production_refuses_to_start_naming_the_key(string command)
    {
        string[] args = command == "worker"
            ? ["worker", "--bootstrap", _broker.BootstrapServers, "--data", _data, "--drain"]
            : ["audit", "verify", "--data", _data];
        var result = await Cli.RunAsync(TimeSpan.FromMinutes(2), new Dictionary<string, string?> { [Cli.DevelopmentKeysVariable] = null }, args);
        output.WriteLine(result.ToString());
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Compliance:TokenKey is not set", result.Stderr);
        Assert.Contains("Compliance:AllowDevelopmentKeys", result.Stderr);
        // Half-configured is an error too, naming what is missing.
        var partial = await Cli.RunAsync(TimeSpan.FromMinutes(2),
            new Dictionary<string, string?> { [Cli.DevelopmentKeysVariable] = "true", ["CARTRECOVERY_Compliance__TokenKey"] = "test-token-key-0123456789abcdef",
                ["CARTRECOVERY_Compliance__PseudonymKey"] = "test-pseudonym-key-0123456789ab" }, args);
        Assert.Equal(2, partial.ExitCode);
        Assert.Contains("Compliance:RecordKey is not set", partial.Stderr);
    }

    private const string OutputWriterHeader = Streaming.Output.OutputWriter.ForwardHeader;

    /// <summary>A hand-over as the worker builds it (IdentityMerger, the checkpoint format) of a made-up device whose state
    /// holds a cart-recovery grant by email.</summary>
    private static IdentityMerged HandOver(string customer, string grantId)
    {
        var engine = new RecoveryEngine(PolicyFile.LoadDefault());
        var device = $"made-up-device-of-{customer}";
        var grant = new ConsentGranted
        {
            EventId = grantId, ShopperId = device, EventTime = T0.AddDays(-1), Purpose = "cart_recovery", Channel = "email", Source = "checkout_form", WordingVersion = "w-1",
        };
        var state = engine.Apply(ShopperState.New(device), grant, Watermark.Start).Shopper;
        var link = new IdentityLinked { EventId = $"link-{customer}", ShopperId = device, AnonymousId = device, CustomerId = customer, EventTime = T0.AddMinutes(2), Source = "login" };
        return new IdentityMerger(engine).HandOverFor(link, state, [], PartitionCheckpoint.ToJson).Record;
    }

    private static IEnumerable<ShopperEvent> Cart(string shopper)
    {
        yield return new SessionStarted { EventId = $"{shopper}-start", ShopperId = shopper, SessionId = $"{shopper}-s", EventTime = T0, TimeZone = "UTC" };
        yield return new CartLineAdded
        {
            EventId = $"{shopper}-add", ShopperId = shopper, SessionId = $"{shopper}-s", EventTime = T0.AddMinutes(1),
            Line = new CartLine { Sku = "SKU-1", Name = "Lamp", UnitPrice = 80m, Quantity = 1 },
        };
    }

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
