using CartRecovery.Host.Commands;

namespace CartRecovery.Replay.Tests;

/// <summary>How two runs' metrics line up when one run lacks a metric the other has.</summary>
public sealed class BacktestComparisonTests
{
    private static BacktestRun Run(string label, params BacktestMetric[] metrics) => new(label, $"{label}.json", label, metrics);

    [Fact]
    public void A_step_policy_B_does_not_have_shows_no_timing_and_no_delta_while_a_missing_count_is_zero()
    {
        var a = Run("a",
            new BacktestMetric(BacktestMetrics.TimingSection, "step 2 due", "24"),
            new BacktestMetric("suppressions by reason", "holdout", "3"));
        var b = Run("b");

        var rows = BacktestComparison.Of(a, b).Rows.ToDictionary(r => r.Name);

        Assert.Equal(("24", "-", ""), (rows["step 2 due"].A, rows["step 2 due"].B, rows["step 2 due"].Delta));
        Assert.Equal(("3", "0", "-3"), (rows["holdout"].A, rows["holdout"].B, rows["holdout"].Delta));
    }
}
