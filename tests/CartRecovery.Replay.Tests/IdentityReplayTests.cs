using CartRecovery.Contracts;
using CartRecovery.Host.Commands;
using CartRecovery.Replay.Tests.Support;
using Confluent.Kafka;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>
/// Kind 1 of issue 11, identity: an anonymous device and a customer linked by <c>identity_linked</c> are one shopper,
/// through the CLI replay (the embedded broker, 6 partitions, the worker in drain mode). Every pair of ids here lands
/// on two different partitions, asserted with the producer's own partitioner, so the hand-over really travels
/// through Kafka from one partition to the other.
/// </summary>
public sealed class IdentityReplayTests(ITestOutputHelper output) : IDisposable
{
    private const int ReplayPartitions = 6; // the replay command's default
    private static readonly string Cases = Path.Combine(Cli.RepoRoot, "tests", "CartRecovery.Replay.Tests", "FieldCases");
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Case_01_without_a_link_keeps_the_customers_order_row()
    {
        // The input has no identity_linked, so the product cannot know the device and the customer are one person;
        // the minimum is that the customer's order never disappears from session_outcomes under FINAL.
        var data = await ReplayAsync("01-guest-registers-at-checkout.ndjson");
        Assert.Contains("cust-1001\ts-guest-01\tordered\t2026-03-02 16:03:00.000\t24",
            Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT shopper_id, session_id, outcome, ordered_at, order_value FROM session_outcomes FINAL")));
    }

    [Fact]
    public async Task Case_01_with_the_link_sends_no_reminder_and_keeps_one_order_row_for_the_customer()
    {
        Assert.NotEqual(PartitionOf("dev-7f3a"), PartitionOf("cust-1001"));
        var data = await ReplayAsync("01-guest-registers-at-checkout-linked.ndjson");

        Assert.Empty(Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT kind, step, session_id, shopper_id FROM recovery_triggers FINAL")));
        var outcome = Assert.Single(Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT shopper_id, session_id, outcome, ordered_at, order_value FROM session_outcomes FINAL")));
        Assert.Matches(@"^cust-1001\ts-guest-01\t(ordered|abandoned_recovered)\t2026-03-02 16:03:00.000\t24$", outcome);
        // The device's cart was handed over to the customer, audited on both sides.
        var identity = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT shopper_id, decision FROM audit_log FINAL WHERE decision IN ('identity_linked', 'identity_merged') ORDER BY shopper_id"));
        Assert.Equal(["cust-1001\tidentity_merged", "dev-7f3a\tidentity_linked"], identity);
    }

    [Fact]
    public async Task Linked_ids_on_different_partitions_share_orders_consent_and_bought_items()
    {
        foreach (var n in new[] { 100, 101, 104, 106, 107, 109 })
            Assert.NotEqual(PartitionOf($"dev-{n}"), PartitionOf($"cust-{n}"));
        Assert.Equal(PartitionOf("dev-c301"), PartitionOf("cust-c301")); // P6: one partition, the same path through the topic
        var data = await ReplayAsync("identity-linked-shoppers.ndjson");

        // P2: only the customer gave consent; the device's cart is reminded, as the customer's, on that consent.
        // P3: only the device gave consent; the customer's own cart is reminded on it.
        // P1, P4, P5, P6: the customer bought (another session; the device's session with events after the link; the
        // order before the link; both ids on one partition): no reminder. P7: the device's opt-out, newer than the
        // customer's consent, covers the customer's cart. Nothing is ever sent to a device id after its link.
        var triggers = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT shopper_id, session_id, step, consent_event_id FROM recovery_triggers FINAL ORDER BY shopper_id, step"));
        Assert.Equal(
        [
            "cust-101\ts-101\t1\tp2-consent", "cust-101\ts-101\t2\tp2-consent",
            "cust-104\ts-104-c\t1\tp3-consent", "cust-104\ts-104-c\t2\tp3-consent",
        ], triggers);

        var outcomes = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT shopper_id, session_id, outcome FROM session_outcomes FINAL WHERE shopper_id IN ('cust-106', 'cust-107', 'cust-c301') ORDER BY shopper_id"));
        Assert.Equal(["cust-106\ts-106\tordered", "cust-107\ts-107\tordered", "cust-c301\ts-c301\tordered"], outcomes);
        var optedOut = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT step, reason, arrayStringConcat(evidence, ',') FROM audit_log FINAL WHERE shopper_id = 'cust-109' AND decision = 'suppressed' ORDER BY step"));
        Assert.Equal(["1\tconsent_withdrawn\tp7-unsub", "2\tconsent_withdrawn\tp7-unsub"], optedOut);
        var bought = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT step, reason FROM audit_log FINAL WHERE shopper_id = 'cust-100' AND session_id = 's-100' AND decision = 'suppressed' ORDER BY step"));
        // The customer's order came after the device's cart was left: a purchase anywhere ends the case (order_placed).
        Assert.Equal(["1\torder_placed", "2\torder_placed"], bought);
        Assert.Empty(Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT shopper_id FROM session_outcomes FINAL WHERE startsWith(shopper_id, 'dev-')")));
    }

    [Fact]
    public async Task Caps_count_the_messages_of_both_ids()
    {
        Assert.NotEqual(PartitionOf("dev-108"), PartitionOf("cust-108"));
        var data = await ReplayAsync("identity-caps-shared.ndjson");

        // Two reminders went to the device before the link; the customer's cart afterwards may get one more within
        // the cap of 3 per shopper per 7 days: its second step is suppressed by the shared cap.
        var triggers = Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT shopper_id, session_id, step FROM recovery_triggers FINAL ORDER BY event_time"));
        Assert.Equal(["dev-108\ts-108-a\t1", "dev-108\ts-108-a\t2", "cust-108\ts-108-b\t1"], triggers);
        var capped = Cli.Rows(await Cli.QueryTsvAsync(data,
            "SELECT shopper_id, step, reason FROM audit_log FINAL WHERE decision = 'suppressed'"));
        Assert.Equal(["cust-108\t2\tcap_per_shopper"], capped);
    }

    private async Task<string> ReplayAsync(string caseFile)
    {
        var data = _temp.Sub(Path.GetFileNameWithoutExtension(caseFile));
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(5), "replay", "--input", Path.Combine(Cases, caseFile), "--format", "ndjson",
            "--policy", Path.Combine(Cases, "no-holdout.json"), "--data", data, "--partitions", ReplayPartitions.ToString());
        output.WriteLine(run.Stdout);
        return data;
    }

    /// <summary>The partition the replay's producer puts a key on: asked of the producer itself (its default
    /// partitioner), on an embedded broker with the replay's partition count.</summary>
    private static int PartitionOf(string key)
    {
        using var broker = EmbeddedBroker.Start(ReplayPartitions);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        return producer.ProduceAsync(Topics.CartEvents, new Message<string, byte[]> { Key = key, Value = [] }).GetAwaiter().GetResult().Partition.Value;
    }

    public void Dispose() => _temp.Dispose();
}
