using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>
/// A replay of old traffic keeps its rows whatever reads it later. Until session 7, opening a store to report, check
/// compliance, look up consent or erase applied the live 400-day retention to it, and a 2024 replay was emptied the
/// first time anyone read it. The input is field cases moved to 2024: old dates only get older, so this test holds on
/// any day it runs.
/// </summary>
public sealed class HistoricalReplayRetentionTests(ITestOutputHelper output) : IDisposable
{
    private const string Counts =
        "SELECT (SELECT count() FROM recovery_triggers FINAL), (SELECT countIf(decision != 'erased') FROM audit_log FINAL), (SELECT count() FROM session_outcomes FINAL), " +
        "(SELECT count() FROM outcome_events FINAL), (SELECT count() FROM consent_ledger), (SELECT count() FROM recovery_outcomes)";

    private readonly TempDirectory _temp = new();

    private static string CaseFile(string name) => Path.Combine(Cli.RepoRoot, "tests", "CartRecovery.Replay.Tests", "FieldCases", name);

    [Fact]
    public async Task A_2024_replay_keeps_all_its_rows_after_report_compliance_consent_and_erase()
    {
        var input = _temp.Sub("2024.ndjson");
        var lines = new List<string>();
        foreach (var name in new[] { "12-normal-order-counted-recovered.ndjson", "05b-cycles-then-order.ndjson", "90-unsubscribe-all-marketing.ndjson", "09-late-event-after-reminder.ndjson" })
            lines.AddRange((await File.ReadAllLinesAsync(CaseFile(name))).Where(l => l.Trim().Length > 0).Select(l => l.Replace("\"2026-", "\"2024-", StringComparison.Ordinal)));
        Assert.All(lines, l => Assert.DoesNotContain("\"2026-", l));
        await File.WriteAllLinesAsync(input, lines);
        var data = _temp.Sub("data");

        var replay = await Cli.RunAsync(TimeSpan.FromMinutes(5), "replay", "--input", input, "--format", "ndjson", "--policy", CaseFile("no-holdout.json"), "--data", data);
        output.WriteLine(replay.ToString());
        Assert.Equal(0, replay.ExitCode);
        var before = Assert.Single(Cli.Rows(await Cli.QueryTsvAsync(data, Counts)));
        var figures = before.Split('\t').Select(long.Parse).ToArray();
        Assert.True(figures[0] > 0 && figures[1] > 0 && figures[2] > 0 && figures[4] > 0, $"the replay wrote too little to show anything: {before}");

        foreach (var args in new[]
        {
            new[] { "report", "--data", data, "--out", _temp.Sub("report.html") },
            ["compliance", "--data", data, "--policy", CaseFile("no-holdout.json")],
            ["consent", "--data", data, "--shopper", "cust-1212"],
            ["erase", "--shopper", "cust-1212", "--data", data],
        })
        {
            // erase waits up to its own bound for the engine to remove the parts it replaced (slow on a loaded machine).
            var run = await Cli.RunAsync(CartRecovery.Host.Commands.ComplianceCommands.ErasurePurgeTimeout + TimeSpan.FromMinutes(2), args);
            output.WriteLine(run.ToString());
            Assert.True(run.ExitCode == 0, $"{args[0]}: {run}");
            // Each command may force merges; nothing may go. Erasure pseudonymises rows, it never removes one a figure counts
            // (it adds its own 'erased' audit row, left out of the count).
            Assert.Equal(before, Assert.Single(Cli.Rows(await Cli.QueryTsvAsync(data, Counts))));
        }
        Assert.Equal(["0"], Cli.Rows(await Cli.QueryTsvAsync(data, "SELECT count() FROM audit_log FINAL WHERE shopper_id = 'cust-1212'")));
    }

    public void Dispose() => _temp.Dispose();
}
