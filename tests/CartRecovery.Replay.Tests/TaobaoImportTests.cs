using CartRecovery.Contracts;
using CartRecovery.Contracts.Events;
using CartRecovery.Replay.Tests.Support;
using CartRecovery.Traffic;
using CartRecovery.Traffic.Import;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>The Taobao UserBehavior importer on lines these tests invent (docs/replay.md, "Formats"): sessions split after
/// 30 minutes of a shopper's silence, events in time order whatever the file's order, bad lines by number and reason.</summary>
public sealed class TaobaoImportTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>2017-11-25 08:00:00 UTC (16:00 in Shanghai, outside the default quiet hours), inside the dataset's own week.</summary>
    private const long T = 1511596800;

    private readonly TempDirectory _temp = new();

    private static (List<GeneratedEvent> Events, ImportStatistics Statistics) Import(params string[] lines)
    {
        var statistics = new ImportStatistics();
        var events = TaobaoImporter.Read(new StringReader(string.Join('\n', lines)), ClickstreamDefaults.Taobao, statistics).ToList();
        return (events, statistics);
    }

    private static string Describe(ShopperEvent evt) => evt switch
    {
        SessionStarted s => $"session_started {s.EventId} {s.SessionId} returning={s.ReturningShopper}",
        ProductViewed v => $"product_viewed {v.EventId} {v.SessionId} {v.Sku} {v.Category}",
        CartLineAdded a => $"cart_line_added {a.EventId} {a.SessionId} {a.Line.Sku}x{a.Line.Quantity}@{a.Line.UnitPrice} {a.Category}",
        OrderPlaced o => $"order_placed {o.EventId} {o.SessionId} {o.OrderId} {string.Join(',', o.Lines.Select(l => $"{l.Sku}x{l.Quantity}@{l.UnitPrice}"))} total={o.Total}",
        ConsentGranted c => $"consent_granted {c.EventId} {c.Channel}",
        _ => evt.GetType().Name,
    };

    [Fact]
    public void Lines_grouped_by_user_become_events_in_time_order_with_a_new_session_after_more_than_30_minutes_of_silence()
    {
        var (events, statistics) = Import(
            $"7001,100,42,pv,{T}",
            $"7001,100,42,cart,{T + 600}",
            $"7001,101,42,fav,{T + 600 + 1800}",          // exactly 30 min after the cart: the same visit
            $"7001,100,42,buy,{T + 600 + 1800 + 1801}",   // 30 min 1 s of silence: a new session
            $"7002,200,43,pv,{T - 300}",                  // another user, earlier than all of the first one's lines
            $"7002,200,,cart,{T + 60}");

        Assert.Empty(statistics.BadLines);
        Assert.Equal(6, statistics.DataLines);
        Assert.Equal(
        [
            "consent_granted taobao-L5-consent email",
            "session_started taobao-L5-session taobao-session-L5 returning=False",
            "product_viewed taobao-L5 taobao-session-L5 200 taobao.43",
            "consent_granted taobao-L1-consent email",
            "session_started taobao-L1-session taobao-session-L1 returning=False",
            "product_viewed taobao-L1 taobao-session-L1 100 taobao.42",
            "cart_line_added taobao-L6 taobao-session-L5 200x1@0 ",
            "cart_line_added taobao-L2 taobao-session-L1 100x1@0 taobao.42",
            "product_viewed taobao-L3 taobao-session-L1 101 taobao.42", // fav: a view of the product
            "session_started taobao-L4-session taobao-session-L4 returning=True",
            "order_placed taobao-L4 taobao-session-L4 taobao-order-L4 100x1@0 total=0",
        ], events.Select(e => Describe(e.Event)));
        Assert.Equal(events.Count, statistics.EventsProduced);
        Assert.Equal(events.Select(e => e.Event.EventTime).Order(), events.Select(e => e.Event.EventTime));
        Assert.All(events.OfType<GeneratedEvent>().Where(e => e.Event is SessionStarted), e =>
            Assert.Equal(("web", "Asia/Shanghai", "CNY"), (((SessionStarted)e.Event).Channel, ((SessionStarted)e.Event).TimeZone, ((SessionStarted)e.Event).Currency)));
        Assert.Equal(Topics.OrderEvents, events[^1].Topic);
    }

    [Fact]
    public void Bad_lines_are_reported_by_number_and_reason_without_their_content_and_the_good_ones_still_import()
    {
        var (events, statistics) = Import(
            $"7654321,100,42,pv,{T}",
            "7654321,100,42,pv",                           // line 2
            $"7654321,100,42,click,{T}",                   // line 3
            "7654321,100,42,pv,2017-11-25 08:00:00",       // line 4
            $",100,42,pv,{T}",                             // line 5
            $"7654321,,42,pv,{T}",                         // line 6
            "7654321,100,42,pv,99999999999999999999",      // line 7: no long
            "",                                            // line 8: blank, neither counted nor bad
            "7654321,100,42,pv,946684799",                 // line 9: 1999-12-31, before the accepted window
            $"7654321,100,42,cart,{T + 60}");

        Assert.Equal(
        [
            "line 2: wrong_column_count (4 columns, expected 5)",
            "line 3: unknown_event_type (behavior_type is not pv, fav, cart or buy)",
            "line 4: invalid_field (timestamp is not unix seconds between 2000-01-01 and 2100-01-01 (UTC, end exclusive))",
            "line 5: missing_field (user_id is empty)",
            "line 6: missing_field (item_id is empty)",
            "line 7: invalid_field (timestamp is not unix seconds between 2000-01-01 and 2100-01-01 (UTC, end exclusive))",
            "line 9: invalid_field (timestamp is not unix seconds between 2000-01-01 and 2100-01-01 (UTC, end exclusive))",
        ], statistics.BadLines.Select(b => b.ToString()));
        Assert.Equal(9, statistics.DataLines);
        Assert.DoesNotContain(statistics.BadLines, b => b.Detail.Contains("7654321"));
        Assert.Equal(["taobao-L1-consent", "taobao-L1-session", "taobao-L1", "taobao-L10"], events.Select(e => e.Event.EventId));
    }

    [Fact]
    public async Task A_replay_abandons_the_carts_left_for_more_than_30_minutes_and_counts_a_later_buy_as_their_conversion()
    {
        var input = await WriteSyntheticShoppersAsync();

        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "taobao", "--data", _temp.Sub("data"),
            "--partitions", "2", "--max-bad-share", "0.5");
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("imported 12 lines (taobao)", run.Stdout);
        Assert.Contains("1 bad lines skipped", run.Stdout);
        Assert.Contains("line 12: wrong_column_count (4 columns, expected 5)", run.Stderr);
        Assert.DoesNotContain("8005", run.Stderr);
        // The file is grouped by user; published in time order, no shopper's event arrives behind the stream's time.
        Assert.Matches(@"late events \(audited\)\s+0\r?\n", run.Stdout);

        var outcomes = Cli.Rows(await Cli.QueryTsvAsync(_temp.Sub("data"),
            "SELECT session_id, outcome FROM session_outcomes FINAL ORDER BY session_id"));
        Assert.Equal(
        [
            "taobao-session-L1\tabandoned",
            "taobao-session-L10\tbrowsed",
            "taobao-session-L3\tordered",
            "taobao-session-L6\tabandoned",
            "taobao-session-L8\tordered",
        ], outcomes);

        var carts = Cli.Rows(await Cli.QueryTsvAsync(_temp.Sub("data"),
            "SELECT session_id, converted, recovered FROM recovery_outcomes ORDER BY session_id"));
        // 8002's order 75 min after the cart comes before the 1 h reminder is due (1 h after abandonment): converted, not
        // recovered. 8003 never ordered.
        Assert.Equal(["taobao-session-L1\t0\t0", "taobao-session-L6\t1\t0"], carts);
    }

    /// <summary>Four invented shoppers, grouped by user as the dataset is (not in time order), and one bad line (12).</summary>
    private async Task<string> WriteSyntheticShoppersAsync()
    {
        var input = _temp.Sub("UserBehavior-synthetic.csv");
        await File.WriteAllLinesAsync(input,
        [
            $"8003,300,50,pv,{T + 120}",            // line 1: 8003 carts and leaves
            $"8003,300,50,cart,{T + 180}",
            $"8001,100,50,pv,{T}",                  // line 3: 8001 buys within the visit
            $"8001,100,50,cart,{T + 60}",
            $"8001,100,50,buy,{T + 300}",
            $"8002,200,51,pv,{T + 30}",             // line 6: 8002 carts, leaves, and buys 75 min later
            $"8002,200,51,cart,{T + 90}",
            $"8002,200,51,pv,{T + 90 + 4500}",      // line 8: the later visit
            $"8002,200,51,buy,{T + 90 + 4510}",
            $"8004,400,52,pv,{T + 200}",            // line 10: 8004 only looks
            $"8004,400,52,fav,{T + 260}",
            "8005,500,52,cart",                     // line 12
        ]);
        return input;
    }

    [Fact]
    public async Task A_backtest_of_a_taobao_file_runs_its_replays_under_the_configuration_it_was_given()
    {
        var input = await WriteSyntheticShoppersAsync();
        var policy = Path.Combine(Cli.RepoRoot, "src", "CartRecovery.Domain", "Policy", "default-policy.json");

        // As ./run.sh runs it: the development keys allowed by a configuration key on the command line, not the environment.
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(10), new Dictionary<string, string?> { [Cli.DevelopmentKeysVariable] = null },
            "backtest", "--input", input, "--format", "taobao", "--policy", policy, "--policy", policy, "--work", _temp.Sub("backtest"),
            "--out", _temp.Sub("backtest.html"), "--max-bad-share", "0.5", "--Compliance:AllowDevelopmentKeys=true");
        output.WriteLine(run.ToString());

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"abandoned carts converted\s+1\s+1\s+0\r?\n", run.Stdout);
    }

    public void Dispose() => _temp.Dispose();
}
