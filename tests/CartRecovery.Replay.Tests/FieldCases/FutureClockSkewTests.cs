using System.Text.Json.Nodes;
using CartRecovery.Replay.Tests.Support;
using CartRecovery.Traffic;
using CartRecovery.Contracts.Serialization;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests.FieldCases;

/// <summary>
/// Issue 21, "one record moves time for everyone": an event whose clock is far ahead of the rest of the input moves no
/// other shopper's time (README "Event time", <c>max_future_skew</c>). Field case t3-02 (a device months ahead on the
/// partition of a shopper who is still shopping) and siblings: other skews, other event types, the year-9999 record,
/// skewed records on other partitions of a busy stream (compared with the same stream without them), and a real
/// overnight gap in traffic, which must still move time.
/// </summary>
public sealed class FutureClockSkewTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    private static string CaseFile(string name) => Path.Combine(Cli.RepoRoot, "tests", "CartRecovery.Replay.Tests", "FieldCases", name);

    private const string T302 = "t3-02-future-clock-skew-device.ndjson";

    /// <summary>The case's own check: step-1 reminders of cust-0202 / her reminders before her cart was left (12:10).</summary>
    private const string T302Check =
        "SELECT concat(toString(countIf(step=1)), '/', toString(countIf(event_time < toDateTime64('2026-04-14 12:10:00', 3, 'UTC')))) " +
        "FROM recovery_triggers FINAL WHERE shopper_id='cust-0202' AND kind='reminder'";

    private async Task<string> ReplayAsync(string name, string input, params string[] extra)
    {
        var data = _temp.Sub(name);
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(5), ["replay", "--input", input, "--format", "ndjson",
            "--policy", CaseFile("no-holdout.json"), "--data", data, .. extra]);
        output.WriteLine(run.ToString());
        return data;
    }

    private static async Task<string[]> RowsAsync(string data, string sql) => Cli.Rows(await Cli.QueryTsvAsync(data, sql));

    /// <summary>The case's input with the device's two events (t302-x1, t302-x2) replaced.</summary>
    private string WithDevice(string name, params string[] deviceLines)
    {
        var lines = File.ReadAllLines(CaseFile(T302)).Where(l => !l.Contains("\"t302-x", StringComparison.Ordinal)).ToList();
        var at = lines.FindIndex(l => l.Contains("\"t302-e3\"", StringComparison.Ordinal)) + 1;
        lines.InsertRange(at, deviceLines);
        var path = _temp.Sub(name + ".ndjson");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task Case_t3_02_a_device_clock_months_ahead_reminds_nobody_who_is_still_shopping()
    {
        var data = await ReplayAsync("t3-02", CaseFile(T302), "--partitions", "1");

        Assert.Equal(["1/0"], await RowsAsync(data, T302Check));
        // Her normal schedule: left 12:10, step 1 at 13:15, step 2 the next day 12:15; none of her events was late.
        Assert.Equal(["1\t2026-04-14 13:15:00.000", "2\t2026-04-15 12:15:00.000"],
            await RowsAsync(data, "SELECT step, event_time FROM recovery_triggers FINAL WHERE shopper_id='cust-0202' ORDER BY step"));
        Assert.Equal(["0"], await RowsAsync(data, "SELECT count() FROM audit_log FINAL WHERE shopper_id='cust-0202' AND decision='late_event'"));
        // The device's events are not lost: applied to the device (its session is there), and audited once her next event
        // showed the input still at April (the device's two events, the first as evidence).
        Assert.Equal(["dev-skew-02\ts-skew-02"], await RowsAsync(data, "SELECT shopper_id, session_id FROM session_outcomes FINAL WHERE shopper_id='dev-skew-02'"));
        Assert.Equal(["dev-skew-02\tevent_time_ahead\t['t302-x1']\t2026-04-14 10:40:00.000"], await RowsAsync(data,
            "SELECT shopper_id, reason, evidence, event_time FROM audit_log FINAL WHERE decision='future_event'"));
    }

    public static TheoryData<string, string> Devices => new()
    {
        // exactly the bound ahead of her last event (10:20 + 2 h; the laminardb report's +2 h)
        { "two-hours", """{"type":"session_started","event_id":"sk-1","shopper_id":"dev-sk","session_id":"s-sk","event_time":"2026-04-14T12:20:00Z","channel":"app","time_zone":"UTC","currency":"EUR"}""" },
        // hours ahead: a clock in the wrong time zone (10:25 real, +3 h)
        { "hours", """{"type":"session_started","event_id":"sk-1","shopper_id":"dev-sk","session_id":"s-sk","event_time":"2026-04-14T13:25:00Z","channel":"app","time_zone":"UTC","currency":"EUR"}""" },
        // a day ahead, a cart line (the sql-flow report)
        { "day", """{"type":"cart_line_added","event_id":"sk-1","shopper_id":"dev-sk","session_id":"s-sk","event_time":"2026-04-15T10:25:00Z","line":{"sku":"lamp-02","name":"desk lamp","unit_price":35.0,"quantity":1},"currency":"EUR"}""" },
        // 50 years ahead, a consent event
        { "years", """{"type":"consent_granted","event_id":"sk-1","shopper_id":"dev-sk","event_time":"2076-04-14T10:25:00Z","purpose":"cart_recovery","channel":"email","source":"app","wording_version":"v3"}""" },
        // the latest time the entry admits (the year 9999 is dead-lettered at entry: EntryLimits.TimeWindow)
        { "2099", """{"type":"session_started","event_id":"sk-1","shopper_id":"dev-sk","session_id":"s-sk","event_time":"2099-12-31T23:00:00Z","time_zone":"UTC","currency":"EUR"}""" },
    };

    [Theory]
    [MemberData(nameof(Devices))]
    public async Task Any_skew_and_any_event_type_of_one_device_leaves_the_shopper_s_schedule_alone(string name, string device)
    {
        var data = await ReplayAsync(name, WithDevice(name, device), "--partitions", "1");

        Assert.Equal(["1/0"], await RowsAsync(data, T302Check));
        Assert.Equal(["1\t2026-04-14 13:15:00.000", "2\t2026-04-15 12:15:00.000"],
            await RowsAsync(data, "SELECT step, event_time FROM recovery_triggers FINAL WHERE shopper_id='cust-0202' ORDER BY step"));
        Assert.Equal(["0"], await RowsAsync(data, "SELECT count() FROM audit_log FINAL WHERE shopper_id='cust-0202' AND decision='late_event'"));
    }

    /// <summary>A busy stream on six partitions with skewed records of new devices spread through it (several reach
    /// partitions of their own): every decision about every other shopper is the one taken without them.</summary>
    [Fact]
    public async Task Skewed_records_on_any_partition_change_no_other_shopper_s_decisions()
    {
        var events = Day(new SimulationSettings { Shoppers = 400, Seed = 5 });
        var clean = _temp.Sub("clean.ndjson");
        File.WriteAllLines(clean, events.Select(ContractJson.SerializeEventToString));
        var skews = new[] { TimeSpan.FromHours(3), TimeSpan.FromDays(1), TimeSpan.FromDays(240), TimeSpan.FromDays(365 * 50) };
        var lines = events.Select(ContractJson.SerializeEventToString).ToList();
        for (var i = 0; i < 24; i++)
        {
            var at = events[(i + 1) * events.Count / 26].EventTime + skews[i % skews.Length];
            var device = new JsonObject
            {
                ["type"] = i % 2 == 0 ? "session_started" : "product_viewed", ["event_id"] = $"skew-{i}", ["shopper_id"] = $"dev-skew-{i}",
                ["session_id"] = $"s-skew-{i}", ["event_time"] = at.ToString("O"), ["channel"] = "app",
            };
            if (i % 2 == 0) { device["time_zone"] = "UTC"; device["currency"] = "EUR"; }
            else { device["sku"] = "sku-1"; device["unit_price"] = 10.0; }
            lines.Insert((i + 1) * lines.Count / 26, device.ToJsonString());
        }
        var skewed = _temp.Sub("skewed.ndjson");
        File.WriteAllLines(skewed, lines);

        var without = await ReplayAsync("without", clean);
        var with = await ReplayAsync("with", skewed);

        // Proactive chats are left out: they fire on the newest event time (README "Determinism", the one deliberate
        // exception to reorder-invariance), and a few of them differ between the two inputs.
        const string Triggers = "SELECT trigger_id, kind, step, channel, event_time FROM recovery_triggers FINAL " +
            "WHERE shopper_id NOT LIKE 'dev-skew-%' AND kind != 'proactive_chat' ORDER BY trigger_id";
        const string Audits = "SELECT audit_id, decision, reason, event_time FROM audit_log FINAL " +
            "WHERE shopper_id NOT LIKE 'dev-skew-%' AND reason NOT IN ('checkout_idle', 'repeated_payment_failures') ORDER BY audit_id";
        var triggers = await RowsAsync(without, Triggers);
        Assert.NotEmpty(triggers);
        Assert.Equal(triggers, await RowsAsync(with, Triggers));
        Assert.Equal(await RowsAsync(without, Audits), await RowsAsync(with, Audits));
        Assert.Equal(await RowsAsync(without, "SELECT count() FROM audit_log FINAL WHERE decision='late_event'"),
            await RowsAsync(with, "SELECT count() FROM audit_log FINAL WHERE decision='late_event' AND shopper_id NOT LIKE 'dev-skew-%'"));
        Assert.Equal(["0"], await RowsAsync(without, "SELECT count() FROM audit_log FINAL WHERE decision='future_event'"));
        // Every device months or years ahead is audited (the next shopper of its partition refuted it). One 3 h or a day
        // ahead may instead be caught up with before a refuting event comes: in the month of sparse consents that opens
        // the input, a day is the gap between two real events, and such a claim is confirmed or overtaken like theirs.
        var audited = await RowsAsync(with, "SELECT DISTINCT shopper_id FROM audit_log FINAL WHERE decision='future_event' ORDER BY shopper_id");
        Assert.All(audited, id => Assert.StartsWith("dev-skew-", id));
        Assert.Equal(Enumerable.Range(0, 24).Where(i => i % skews.Length >= 2).Select(i => $"dev-skew-{i}").Order(StringComparer.Ordinal),
            audited.Where(id => int.Parse(id["dev-skew-".Length..]) % skews.Length >= 2).Order(StringComparer.Ordinal));
        Assert.InRange(audited.Length, 18, 24);
    }

    /// <summary>A recorded stream with an overnight pause (two simulated days, 19 h apart): the jump after the pause is real,
    /// so the watermark follows it. A buffered event from the first evening that arrives after the second morning's
    /// traffic is late; only the first event after the pause on each partition waits for a second shopper to confirm it.</summary>
    [Fact]
    public async Task An_overnight_pause_in_traffic_still_moves_time()
    {
        var day1 = new SimulationSettings { Shoppers = 150, Seed = 3 };
        var day2 = new SimulationSettings { Shoppers = 150, Seed = 4, Start = day1.Start.AddDays(1) };
        var first = Day(day1);
        // The second day's own traffic (its shoppers' consents given earlier are left out: they would fill the pause).
        var second = Day(day2).Where(e => e.EventTime >= day2.Start).ToList();
        var evening = first.Max(e => e.EventTime);
        var buffered = """{"type":"session_started","event_id":"buffered-1","shopper_id":"cust-buffered","session_id":"s-buffered","event_time":"EVENING","time_zone":"UTC","currency":"EUR"}"""
            .Replace("EVENING", evening.AddMinutes(-10).ToString("O"), StringComparison.Ordinal);
        var input = _temp.Sub("two-days.ndjson");
        File.WriteAllLines(input, [.. first.Select(ContractJson.SerializeEventToString), .. second.Select(ContractJson.SerializeEventToString), buffered]);

        var data = await ReplayAsync("two-days", input, "--partitions", "1");

        Assert.True(second.Min(e => e.EventTime) - evening > TimeSpan.FromHours(12), "the input has an overnight pause");
        Assert.Equal(["late_event\tbeyond_allowed_lateness"],
            await RowsAsync(data, "SELECT decision, reason FROM audit_log FINAL WHERE has(evidence, 'buffered-1') AND decision = 'late_event'"));
        // Genuine traffic is never reported ahead: the first events after the pause waited for a second shopper to
        // confirm the new time (they moved no watermark alone), and nothing after them said they were a bad clock.
        Assert.Equal(["0"], await RowsAsync(data, "SELECT count() FROM audit_log FINAL WHERE decision='future_event'"));
    }

    /// <summary>The simulated traffic of the simulated day only and the consents given before it (not the sparse returns of later days), so a skewed record's
    /// claimed time meets no real traffic that could confirm it, and the two days' traffic has a gap between them.</summary>
    private static List<Contracts.Events.ShopperEvent> Day(SimulationSettings settings) =>
        [.. StorefrontSimulator.Generate(settings).Select(e => e.Event).Where(e => e.EventTime < settings.Start + settings.Duration)];

    public void Dispose() => _temp.Dispose();
}
