using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>The records that stopped the worker (issue 21) in an NDJSON dump: `replay --format ndjson` reports each as a
/// bad line with its reason and replays the rest (it died on the first one).</summary>
public sealed class HostileNdjsonTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Poison_lines_are_reported_by_number_and_reason_and_the_replay_goes_on()
    {
        var input = _temp.Sub("dump.ndjson");
        await File.WriteAllLinesAsync(input,
        [
            """{"type":"session_started","event_id":"e1","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:00:00Z"}""",
            """{"type":"order_placed","event_id":"e2","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:01:00Z","order_id":"o","total":1,"lines":[null]}""",
            """{"type":"session_started","event_id":"e","event_id":"e"}""",
            """{"type":"session_started","event_id":"e4","shopper_id":"shopper-2","session_id":"s2","event_time":"0001-01-01T00:01:00Z"}""",
            """{"type":"cart_line_added","event_id":"e5","shopper_id":"shopper-2","session_id":"s2","event_time":"9999-12-31T23:59:00Z","line":{"sku":"A","unit_price":1,"quantity":1}}""",
            """{"type":"cart_line_added","event_id":"e6","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:02:00Z","line":{"sku":"gold","unit_price":1e28,"quantity":10}}""",
            """{"type":"product_viewed","event_id":"e7","shopper_id":"shopper-1","session_id":"s1","event_time":"2026-03-02T09:03:00Z","sku":"x"}""",
        ]);

        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "ndjson", "--data", _temp.Sub("a"), "--max-bad-share", "0.9");
        output.WriteLine(run.ToString());

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("line 2: invalid_field (lines must not hold null)", run.Stderr);
        Assert.Contains("line 3: invalid_field (duplicate property at $.event_id)", run.Stderr);
        Assert.Contains("line 4: invalid_field (event_time must be between 2000-01-01 and 2100-01-01", run.Stderr);
        Assert.Contains("line 5: invalid_field (event_time must be between 2000-01-01 and 2100-01-01", run.Stderr);
        Assert.Contains("line 6: invalid_field (line needs unit_price between 0 and 1000000000)", run.Stderr);
        Assert.Contains("imported 7 lines (ndjson): 2 events published, 5 bad lines skipped", run.Stdout);
        Assert.Contains("triggers by kind", run.Stdout); // the replay went on to its summary
    }

    [Fact]
    public async Task A_line_that_is_not_valid_utf8_is_refused_as_the_worker_refuses_it_never_decoded_to_replacement_characters()
    {
        var input = _temp.Sub("bytes.ndjson");
        var good = "{\"type\":\"product_viewed\",\"event_id\":\"v1\",\"shopper_id\":\"shopper-1\",\"session_id\":\"s1\",\"event_time\":\"2026-03-02T09:00:00Z\",\"sku\":\"x\"}"u8;
        var bad = "{\"type\":\"product_viewed\",\"event_id\":\"v2\",\"shopper_id\":\"h8"u8.ToArray()
            .Concat(new byte[] { 0xFF, 0xFE })
            .Concat("\",\"session_id\":\"s2\",\"event_time\":\"2026-03-02T09:01:00Z\",\"sku\":\"x\"}"u8.ToArray()).ToArray();
        await File.WriteAllBytesAsync(input, [.. good, (byte)'\r', (byte)'\n', .. bad, (byte)'\n']);

        var run = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "ndjson", "--data", _temp.Sub("b"), "--max-bad-share", "0.9");
        output.WriteLine(run.ToString());

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("line 2: not_json", run.Stderr);
        Assert.Contains("imported 2 lines (ndjson): 1 events published, 1 bad lines skipped", run.Stdout);
        Assert.Equal(["0"], Cli.Rows(await Cli.QueryTsvAsync(_temp.Sub("b"), "SELECT count() FROM session_outcomes FINAL WHERE shopper_id LIKE 'h8%'")));
    }

    public void Dispose() => _temp.Dispose();
}
