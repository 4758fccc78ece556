using System.Globalization;
using System.Text.Json.Nodes;
using CartRecovery.Replay.Tests.Support;
using Xunit.Abstractions;

namespace CartRecovery.Replay.Tests;

/// <summary>One definition of each metric, over generated traffic of several seeds: the replay's run summary, the backtest
/// figures of the same run (what <c>backtest</c> compares) and the analytics view agree on every figure they share.</summary>
public sealed class SharedFigureAgreementTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Theory]
    [InlineData(3)]
    [InlineData(11)]
    public async Task Summary_backtest_figures_and_views_agree_on_generated_traffic(int seed)
    {
        var input = Inputs.WriteGeneratedNdjson(_temp.Sub("traffic.ndjson"), shoppers: 600, seed: seed);
        var data = _temp.Sub("data");
        var metricsFile = _temp.Sub("metrics.json");
        var run = await Cli.RunOkAsync(TimeSpan.FromMinutes(8), "replay", "--input", input, "--format", "ndjson", "--data", data, "--metrics-out", metricsFile);
        output.WriteLine(run.Stdout);

        var lines = run.Stdout.Split('\n').Select(l => l.Trim()).ToList();
        string Summary(string label) => lines.Single(l => l.StartsWith(label + "  ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
        var metrics = JsonNode.Parse(await File.ReadAllTextAsync(metricsFile))!.AsArray()
            .Select(n => (Section: (string)n!["section"]!, Name: (string)n["name"]!, Value: (string)n["value"]!)).ToList();
        string Backtest(string name) => metrics.Single(m => m.Name == name).Value;
        long SectionSum(string section) => metrics.Where(m => m.Section == section).Sum(m => long.Parse(m.Value, CultureInfo.InvariantCulture));
        async Task<string> View(string sql) => Cli.Rows(await Cli.QueryTsvAsync(data, sql)).Single();

        var recovered = await View("SELECT count() FROM recovery_outcomes WHERE recovered = 1");
        Assert.NotEqual("0", recovered); // the traffic has recoveries: the comparison is not vacuous
        foreach (var (summary, backtest, view) in new[]
        {
            ("sessions", "sessions", "SELECT count() FROM session_outcomes FINAL"),
            ("orders", "orders", "SELECT countIf(ordered_at IS NOT NULL) FROM session_outcomes FINAL"),
            ("carts abandoned", "carts abandoned", "SELECT count() FROM recovery_outcomes"),
            ("of which converted", "abandoned carts converted", "SELECT countIf(converted = 1) FROM recovery_outcomes"),
            ("of which recovered", "abandoned carts recovered", "SELECT countIf(recovered = 1) FROM recovery_outcomes"),
            ("of which holdout", "abandoned carts in holdout", "SELECT countIf(holdout) FROM recovery_outcomes"),
            ("revenue recovered (EUR)", "recovered revenue (EUR)", "SELECT toString(sum(revenue)) FROM recovery_outcomes WHERE revenue_currency = 'EUR'"),
        })
        {
            var fromView = await View(view);
            Assert.True(fromView == Summary(summary), $"{summary}: view {fromView}, summary {Summary(summary)}");
            Assert.True(fromView == Backtest(backtest), $"{backtest}: view {fromView}, backtest {Backtest(backtest)}");
        }
        Assert.Equal(long.Parse(Summary("triggers emitted"), CultureInfo.InvariantCulture), SectionSum("triggers by kind, step and channel"));
        Assert.Equal(long.Parse(Summary("suppressions"), CultureInfo.InvariantCulture), SectionSum("suppressions by reason"));
    }

    public void Dispose() => _temp.Dispose();
}
