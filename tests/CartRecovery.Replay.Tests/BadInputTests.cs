using CartRecovery.Host.Commands;
using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>Bad lines are reported by line number and reason (never their content), counted and skipped; the replay
/// fails only when their share exceeds --max-bad-share.</summary>
public sealed class BadInputTests(ITestOutputHelper output) : IDisposable
{
    private const string Header = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Bad_rees46_lines_are_reported_by_number_and_reason_and_fail_the_replay_only_above_the_allowed_share()
    {
        var input = _temp.Sub("clicks.csv");
        await File.WriteAllLinesAsync(input,
        [
            Header,
            "2019-10-01 09:00:00 UTC,view,1001,1,electronics.phone,acme,100.00,71001,s-1",
            "2019-10-01 09:00:10 UTC,cart,1001,1,electronics.phone,acme,100.00,71001,s-1",
            "2019-10-01 09:00:20 UTC,cart,1002,1,electronics.phone,acme,not-a-price,71002,s-2",      // line 4
            "2019-10-01 09:00:30 UTC,wishlist,1003,1,,acme,5.00,71003,s-3",                          // line 5
            "2019-10-01 09:00:40 UTC,view,1004,1,,acme,5.00,71004",                                  // line 6
            "2019-10-01 09:01:00 UTC,view,1005,1,,acme,5.00,71005,s-5",
            "2019-10-01 09:02:00 UTC,purchase,1005,1,,acme,5.00,71005,s-5",
            "2019-10-01 09:03:00 UTC,view,1006,1,,acme,7.00,71006,s-6",
            "2019-10-01 09:04:00 UTC,view,1007,1,,acme,7.00,71007,s-7",
            "2019-10-01 09:05:00 UTC,view,1008,1,,acme,7.00,71008,s-8",
        ]);

        var tolerated = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "rees46", "--data", _temp.Sub("a"), "--max-bad-share", "0.5");
        output.WriteLine(tolerated.ToString());
        Assert.Equal(0, tolerated.ExitCode);
        Assert.Contains("line 4: invalid_field (price is not a non-negative decimal)", tolerated.Stderr);
        Assert.Contains("line 5: unknown_event_type", tolerated.Stderr);
        Assert.Contains("line 6: wrong_column_count", tolerated.Stderr);
        Assert.Contains("imported 10 lines (rees46)", tolerated.Stdout);
        Assert.Contains("3 bad lines skipped", tolerated.Stdout);
        Assert.DoesNotContain("71002", tolerated.Stderr); // no shopper ids (personal data) in the report
        Assert.DoesNotContain("71003", tolerated.Stderr);
        Assert.Contains("triggers by kind", tolerated.Stdout); // the replay went on
        Assert.Matches(@"dead letters\s+3\r?\n", tolerated.Stdout);

        // Each rejected line is a dead letter of the replay: file name, line number, the reason printed above, the line's
        // hash (never its content), and the time of the last event accepted before it.
        var letters = Cli.Rows(await Cli.QueryTsvAsync(_temp.Sub("a"),
            "SELECT topic, partition, offset, reason, payload_sha256, received_at FROM dead_letters FINAL ORDER BY offset"));
        var lines = await File.ReadAllLinesAsync(input);
        Assert.Equal(
        [
            $"clicks.csv\t0\t4\tinvalid_field\t{Sha256(lines[3])}\t2019-10-01 09:00:10.000",
            $"clicks.csv\t0\t5\tunknown_event_type\t{Sha256(lines[4])}\t2019-10-01 09:00:10.000",
            $"clicks.csv\t0\t6\twrong_column_count\t{Sha256(lines[5])}\t2019-10-01 09:00:10.000",
        ], letters);
        Assert.DoesNotContain("71002", await Cli.QueryTsvAsync(_temp.Sub("a"), "SELECT * FROM dead_letters FINAL"));

        var strict = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "rees46", "--data", _temp.Sub("b"));
        Assert.Equal(ReplayCommand.ExitTooManyBadLines, strict.ExitCode);
        Assert.Contains("3 of 10 lines were bad", strict.Stderr);
    }

    [Fact]
    public async Task Bad_ndjson_lines_get_the_event_parser_reject_reasons()
    {
        var input = _temp.Sub("dump.ndjson");
        await File.WriteAllLinesAsync(input,
        [
            """{"type":"session_started","event_id":"e1","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:00:00Z"}""",
            "{not json",
            """{"type":"teleported","event_id":"e3","shopper_id":"shopper-1","event_time":"2026-03-02T09:00:00Z"}""",
            """{"type":"cart_line_removed","event_id":"e4","shopper_id":"shopper-1","event_time":"2026-03-02T09:00:00Z","sku":"x"}""",
            "",
            """{"type":"product_viewed","event_id":"e5","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:01:00Z","sku":"x"}""",
        ]);
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "ndjson", "--data", _temp.Sub("a"), "--max-bad-share", "0.9");
        output.WriteLine(run.ToString());
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("line 2: not_json", run.Stderr);
        Assert.Contains("line 3: unknown_event_type", run.Stderr);
        Assert.Contains("line 4: missing_field", run.Stderr);
        Assert.Contains("imported 5 lines (ndjson): 2 events published, 3 bad lines skipped", run.Stdout);
        Assert.Matches(@"dead letters\s+3\r?\n", run.Stdout);
        // The reasons in the table are the worker's own (EventParser), as for a rejected record of a live topic.
        Assert.Equal(["dump.ndjson\t0\t2\tnot_json", "dump.ndjson\t0\t3\tunknown_event_type", "dump.ndjson\t0\t4\tmissing_field"],
            Cli.Rows(await Cli.QueryTsvAsync(_temp.Sub("a"), "SELECT topic, partition, offset, reason FROM dead_letters FINAL ORDER BY offset")));
    }

    private static string Sha256(string line) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(line)));

    public void Dispose() => _temp.Dispose();
}
