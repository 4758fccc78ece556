using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace CartRecovery.EndToEnd.Tests;

/// <summary>
/// The main job with the simulated audience answering the triggers (the default): its summary shows delivery and open
/// rates above zero and a positive lift against the holdout with its 95% confidence interval, and the store holds the
/// outcomes and the profiles they came with.
/// </summary>
[Collection("processes")]
public sealed partial class AnsweringAudienceTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("cartrecovery-e2e-audience-").FullName;

    [Fact]
    public async Task The_main_job_reports_open_rates_and_a_positive_simulated_lift_with_its_interval()
    {
        var run = await Cli.RunAsync(TimeSpan.FromMinutes(9), "--shoppers", "2000", "--seed", "42", "--data", _data);
        output.WriteLine(run.Stdout + run.Stderr);
        Assert.Equal(0, run.ExitCode);

        var opened = OpenedLine().Match(run.Stdout);
        Assert.True(opened.Success, "the summary has an opened line");
        Assert.True(Number(opened.Groups["rate"].Value) > 0);
        Assert.True(int.Parse(opened.Groups["of"].Value, CultureInfo.InvariantCulture) > 0);
        var lift = LiftLine().Match(run.Stdout);
        Assert.True(lift.Success, "the summary has a lift line with its interval");
        var (points, low, high) = (Number(lift.Groups["lift"].Value), Number(lift.Groups["low"].Value), Number(lift.Groups["high"].Value));
        Assert.True(points > 0, $"lift {points} pp");
        Assert.True(low < points && points < high);

        var kept = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT type, countIf(matched), countIf(NOT matched) FROM outcome_events FINAL GROUP BY type ORDER BY type"));
        Assert.Contains(kept, row => row.StartsWith("message_opened\t", StringComparison.Ordinal));
        Assert.Contains(kept, row => row.StartsWith("chat_accepted\t", StringComparison.Ordinal));
        Assert.Contains(kept, row => row.StartsWith("survey_answered\t", StringComparison.Ordinal));
        var profiles = Cli.Rows(await Cli.QueryTsvAsync(_data, "SELECT segment, count() FROM shopper_profiles FINAL GROUP BY segment ORDER BY segment"));
        Assert.Contains(profiles, row => row.StartsWith("new\t", StringComparison.Ordinal));
    }

    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s+opened\s+(?<rate>[0-9.]+) % \((?<n>\d+) of (?<of>\d+) delivered\)", RegexOptions.Multiline)]
    private static partial Regex OpenedLine();

    [GeneratedRegex(@"^\s+lift vs holdout\s+(?<lift>[+-]?[0-9.]+) pp \[95% CI (?<low>[+-]?[0-9.]+) pp, (?<high>[+-]?[0-9.]+) pp\]", RegexOptions.Multiline)]
    private static partial Regex LiftLine();

    public void Dispose()
    {
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
