using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Serialization;
using CartRecovery.Domain.Policy;
using CartRecovery.Host.Commands;
using CartRecovery.Kafka.Embedded;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// Browse abandonment and win-back end to end: a scripted history published to the embedded broker, consumed by the
/// worker CLI, decided under a policy that turns both on, and written to ClickHouse: one browse-abandonment and one
/// win-back trigger with their audit rows (and a not-sent row with its reason). The same input under the default policy
/// gives neither, and a second run under the same policy (another consumer group: a replay) gives the same rows.
/// </summary>
[Collection("processes")]
public sealed class ProfileTriggerPipelineTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly string _root = Directory.CreateTempSubdirectory("cartrecovery-e2e-profile-triggers-").FullName;
    private readonly MockKafkaCluster _broker = EmbeddedBroker.Start(partitions: 3);

    [Fact]
    public async Task Browse_abandonment_and_win_back_reach_ClickHouse_with_their_audit_rows_only_when_the_policy_turns_them_on()
    {
        Host.TrafficPublisher.PublishRaw(_broker.BootstrapServers, [.. History().OrderBy(e => e.EventTime)
            .Select(e => (Topic(e), (string?)e.ShopperId, ContractJson.SerializeEvent(e)))]);
        var on = PolicyFile.DefaultText()
            .Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0")
            .Replace("\"browse_abandonment\": { \"enabled\": false", "\"browse_abandonment\": { \"enabled\": true")
            .Replace("\"win_back\": { \"enabled\": false", "\"win_back\": { \"enabled\": true");
        Assert.True(PolicyFile.Parse(on) is { BrowseAbandonment.Enabled: true, WinBack.Enabled: true });

        var first = await RunWorkerAsync("on", on);
        var messages = await Cli.QueryTsvAsync(first,
            "SELECT kind, shopper_id, session_id, channel, category, purpose, event_time, due_time FROM recovery_triggers FINAL " +
            "WHERE kind IN ('browse_abandonment', 'win_back') ORDER BY kind");
        // Browsing: last view 09:03, delay 2 h. Win-back: orders 10 days apart, the last on 13 October at 12:00; at risk
        // 16 d 22:21:20 later (10 days × 1.693), decided when the shopper's next event (2 November) shows that time passed.
        Assert.Equal(
        [
            "browse_abandonment\tbrowser\tbr-sess\temail\thome.lamps\tmarketing\t2026-11-02 11:03:00.000\t2026-11-02 11:03:00.000",
            "win_back\twinner\t\temail\tgarden\tmarketing\t2026-10-30 10:21:20.000\t2026-10-30 10:21:20.000",
        ], Cli.Rows(messages));
        var audits = await Cli.QueryTsvAsync(first,
            "SELECT kind, shopper_id, decision, reason, channel, event_time FROM audit_log FINAL WHERE kind != '' ORDER BY kind, shopper_id");
        Assert.Equal(
        [
            "browse_abandonment\tbrowser\ttriggered\tbrowse_abandonment\temail\t2026-11-02 11:03:00.000",
            "browse_abandonment\tno-marketing\tsuppressed\tno_consent\t\t2026-11-02 11:04:00.000",
            "win_back\twinner\ttriggered\tturned_at_risk\temail\t2026-10-30 10:21:20.000",
        ], Cli.Rows(audits));
        // The new rows are on the audit chain like every other.
        Assert.Equal("0", Cli.Rows(await Cli.QueryTsvAsync(first, "SELECT count() FROM audit_log FINAL WHERE kind != '' AND chain_hash = ''")).Single());

        var off = await RunWorkerAsync("off", PolicyFile.DefaultText().Replace("\"holdout_share\": 0.10", "\"holdout_share\": 0.0"));
        Assert.Equal(["0\t0"], Cli.Rows(await Cli.QueryTsvAsync(off,
            "SELECT (SELECT count() FROM recovery_triggers FINAL WHERE kind IN ('browse_abandonment', 'win_back')), (SELECT count() FROM audit_log FINAL WHERE kind != '')")));
        // Otherwise the same decisions: the cart shopper's reminders are there either way.
        Assert.Equal(await Reminders(first), await Reminders(off));
        Assert.NotEmpty(Cli.Rows(await Reminders(off)));

        var again = await RunWorkerAsync("again", on);
        const string everything = "SELECT trigger_id, kind, event_time FROM recovery_triggers FINAL ORDER BY trigger_id";
        const string chain = "SELECT audit_id, chain_hash FROM audit_log FINAL ORDER BY audit_id";
        Assert.Equal(await Cli.QueryTsvAsync(first, everything), await Cli.QueryTsvAsync(again, everything));
        Assert.Equal(await Cli.QueryTsvAsync(first, chain), await Cli.QueryTsvAsync(again, chain));
    }

    private static Task<string> Reminders(string data) =>
        Cli.QueryTsvAsync(data, "SELECT trigger_id, shopper_id, step, channel FROM recovery_triggers FINAL WHERE kind = 'reminder' ORDER BY trigger_id");

    /// <summary>Runs the worker to the end of its input under <paramref name="policyText"/>, in its own consumer group and
    /// data directory (a replay of the same topics); returns the data directory.</summary>
    private async Task<string> RunWorkerAsync(string name, string policyText)
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        var policyFile = Path.Combine(data, "policy.json");
        await File.WriteAllTextAsync(policyFile, policyText);
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(4), "worker", "--bootstrap", _broker.BootstrapServers, "--data", data, "--drain",
            "--policy", policyFile, "--group", $"profile-triggers-{name}");
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);
        return data;
    }

    private static IEnumerable<ShopperEvent> History()
    {
        // A browser with marketing consent: three views, two of lamps, nothing carted.
        yield return Marketing("browser", "br-c", T0.AddDays(-3));
        yield return new SessionStarted { EventId = "br-start", ShopperId = "browser", SessionId = "br-sess", EventTime = T0, TimeZone = "UTC" };
        yield return View("browser", "br-sess", "br-v1", "lamp-1", "home.lamps", T0.AddMinutes(1));
        yield return View("browser", "br-sess", "br-v2", "shoe-1", "shoes", T0.AddMinutes(2));
        yield return View("browser", "br-sess", "br-v3", "lamp-2", "home.lamps", T0.AddMinutes(3));
        // The same browsing with cart-recovery consent only: not sent, and the audit row says why.
        yield return new ConsentGranted
        {
            EventId = "nm-c", ShopperId = "no-marketing", EventTime = T0.AddDays(-3), Purpose = "cart_recovery", Channel = "email",
            Source = "checkout_form", WordingVersion = "v3",
        };
        yield return View("no-marketing", "nm-sess", "nm-v1", "lamp-1", "home.lamps", T0.AddMinutes(3));
        yield return View("no-marketing", "nm-sess", "nm-v2", "lamp-3", "home.lamps", T0.AddMinutes(4));
        // A customer who bought garden things twice, 10 days apart, and has not ordered since; back browsing on T0.
        yield return Marketing("winner", "w-c", T0.AddDays(-60));
        foreach (var (session, at) in new[] { ("w-1", T0.AddDays(-30).AddHours(3)), ("w-2", T0.AddDays(-20).AddHours(3)) })
        {
            yield return new CartLineAdded
            {
                EventId = $"{session}-add", ShopperId = "winner", SessionId = session, EventTime = at.AddMinutes(-1), Category = "garden",
                Line = new CartLine { Sku = $"{session}-rake", Name = "rake", UnitPrice = 35m, Quantity = 1 },
            };
            yield return new OrderPlaced { EventId = $"{session}-order", ShopperId = "winner", SessionId = session, EventTime = at, OrderId = $"{session}-o", Total = 35m };
        }
        yield return View("winner", "w-3", "w-v1", "lamp-9", null, T0.AddHours(1));
        // A cart left with cart-recovery consent: reminders under either policy.
        yield return new ConsentGranted
        {
            EventId = "cart-c", ShopperId = "carter", EventTime = T0.AddDays(-3), Purpose = "cart_recovery", Channel = "email",
            Source = "checkout_form", WordingVersion = "v3",
        };
        yield return new CartLineAdded
        {
            EventId = "cart-add", ShopperId = "carter", SessionId = "c-sess", EventTime = T0.AddMinutes(5),
            Line = new CartLine { Sku = "sofa", Name = "sofa", UnitPrice = 120m, Quantity = 1 },
        };
    }

    private static ConsentGranted Marketing(string shopper, string id, DateTimeOffset at) => new()
    {
        EventId = id, ShopperId = shopper, EventTime = at, Purpose = "marketing", Channel = "email", Source = "newsletter_form", WordingVersion = "m1",
    };

    private static ProductViewed View(string shopper, string session, string id, string sku, string? category, DateTimeOffset at) => new()
    {
        EventId = id, ShopperId = shopper, SessionId = session, EventTime = at, Sku = sku, Category = category,
    };

    private static string Topic(ShopperEvent e) => e switch
    {
        ConsentEvent => Topics.ConsentEvents,
        OrderPlaced or PaymentAuthorized => Topics.OrderEvents,
        _ => Topics.CartEvents,
    };

    public void Dispose()
    {
        _broker.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
