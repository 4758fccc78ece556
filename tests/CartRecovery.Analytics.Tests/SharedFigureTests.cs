using System.Text.RegularExpressions;

namespace CartRecovery.Analytics.Tests;

/// <summary>
/// One definition of each metric: the run summary (the pipeline's own output), the HTML report and the analytics
/// tables and view agree on every figure they share, on the pipeline's generated run. The view side is written here
/// from the tables' and the view's columns, not with the shared query, and checked against the C# attribution oracle.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed partial class SharedFigureTests(PipelineFixture pipeline)
{
    private static readonly Dictionary<string, string> FromTheViews = new()
    {
        ["sessions"] = "SELECT count() FROM session_outcomes FINAL",
        ["orders"] = "SELECT count() FROM session_outcomes FINAL WHERE ordered_at IS NOT NULL",
        ["carts_abandoned"] = "SELECT count() FROM recovery_outcomes",
        ["carts_converted"] = "SELECT count() FROM recovery_outcomes WHERE converted = 1",
        ["carts_recovered"] = "SELECT count() FROM recovery_outcomes WHERE recovered = 1",
        ["carts_in_holdout"] = "SELECT count() FROM recovery_outcomes WHERE holdout",
        ["triggers"] = "SELECT count() FROM recovery_triggers FINAL",
        ["reminders"] = "SELECT count() FROM recovery_triggers FINAL WHERE kind = 'reminder'",
        ["proactive_chats"] = "SELECT count() FROM recovery_triggers FINAL WHERE kind = 'proactive_chat'",
        ["suppressions"] = "SELECT count() FROM audit_log FINAL WHERE decision = 'suppressed'",
    };

    [Fact]
    public async Task The_summary_the_report_and_the_views_agree_on_every_shared_figure()
    {
        var views = new Dictionary<string, string>();
        foreach (var (figure, sql) in FromTheViews) views[figure] = Cli.Rows(await Cli.QueryTsvAsync(pipeline.DataDirectory, sql)).Single();

        var summaryLines = pipeline.RunOutput.Split('\n').Select(l => l.Trim()).ToList();
        var summary = HeadlineFigures.Labels.ToDictionary(f => f.Column,
            f => summaryLines.Single(l => l.StartsWith(f.Label.Trim() + "  ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);

        var path = Path.Combine(pipeline.DataDirectory, "figures.html");
        Assert.Equal(0, (await Cli.RunAsync(TimeSpan.FromMinutes(2), "report", "--data", pipeline.DataDirectory, "--out", path)).ExitCode);
        var report = Figure().Matches(await File.ReadAllTextAsync(path)).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);

        Assert.Equal(FromTheViews.Keys.Order(), HeadlineFigures.Labels.Select(f => f.Column).Order()); // every shared figure is checked
        foreach (var figure in FromTheViews.Keys)
        {
            Assert.True(views[figure] == summary[figure], $"{figure}: views {views[figure]}, summary {summary[figure]}");
            Assert.True(views[figure] == report[figure], $"{figure}: views {views[figure]}, report {report[figure]}");
        }

        // The same figures by the documented attribution rules, in C# (the view is one implementation of them, not the judge).
        var expected = await ExpectedAnalytics.BuildAsync(pipeline);
        Assert.Equal(expected.Attributions.Count(a => a.Recovered).ToString(), views["carts_recovered"]);
        Assert.Equal(expected.Attributions.Count(a => a.Converted).ToString(), views["carts_converted"]);
        Assert.Equal(expected.Carts.Count.ToString(), views["carts_abandoned"]);
        Assert.NotEqual("0", views["carts_recovered"]);
    }

    [Fact]
    public async Task Session_outcomes_say_recovered_exactly_for_carts_the_view_recovers_with_their_own_order()
    {
        // outcome is about the session's own order; the view credits a cart with the shopper's first order after its
        // abandonment, which may come from another session. Either way, both say recovered only after a reminder.
        const string disagreements = """
            SELECT countIf(r.recovered = 1 AND r.order_session_id = s.session_id AND s.outcome != 'abandoned_recovered'),
                   countIf(s.outcome = 'abandoned_recovered' AND r.recovered != 1)
            FROM session_outcomes AS s FINAL
            LEFT JOIN recovery_outcomes AS r ON r.shopper_id = s.shopper_id AND r.session_id = s.session_id AND r.started_at = s.started_at
            """;
        Assert.Equal("0\t0", Cli.Rows(await Cli.QueryTsvAsync(pipeline.DataDirectory, disagreements)).Single());
        Assert.NotEqual("0", Cli.Rows(await Cli.QueryTsvAsync(pipeline.DataDirectory,
            "SELECT count() FROM session_outcomes FINAL WHERE outcome = 'abandoned_recovered'")).Single());
    }

    [GeneratedRegex("data-figure=\"(?<name>[a-z_]+)\" data-value=\"(?<value>[^\"]*)\"")]
    private static partial Regex Figure();
}
