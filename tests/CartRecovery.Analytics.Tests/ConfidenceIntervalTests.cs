using System.Globalization;

namespace CartRecovery.Analytics.Tests;

/// <summary>The intervals every figure shows (<see cref="ConfidenceIntervals"/>): the published values of Wilson's and
/// Newcombe's intervals, and no certainty from a handful of observations.</summary>
public sealed class ConfidenceIntervalTests
{
    // Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of seven methods",
    // Statistics in Medicine 17:857-872, Table I, method 3 (score, no continuity correction).
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0000, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    public void Wilson_matches_the_published_values(long successes, long trials, double low, double high)
    {
        var interval = ConfidenceIntervals.Wilson(successes, trials);
        Assert.Equal(low, interval.Low, 4);
        Assert.Equal(high, interval.High, 4);
    }

    // Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison of eleven
    // methods", Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score, no continuity correction).
    [Theory]
    [InlineData(56, 70, 48, 80, 0.0524, 0.3339)]
    [InlineData(9, 10, 3, 10, 0.1705, 0.8090)]
    [InlineData(6, 7, 2, 7, 0.0582, 0.8062)]
    [InlineData(5, 56, 0, 29, -0.0381, 0.1926)]
    [InlineData(0, 10, 0, 20, -0.1611, 0.2775)]
    [InlineData(0, 10, 0, 10, -0.2775, 0.2775)]
    [InlineData(10, 10, 0, 20, 0.6791, 1.0000)]
    [InlineData(10, 10, 0, 10, 0.6075, 1.0000)]
    public void Newcombe_matches_the_published_values(long s1, long n1, long s2, long n2, double low, double high)
    {
        var interval = ConfidenceIntervals.Newcombe(s1, n1, s2, n2);
        Assert.Equal(low, interval.Low, 4);
        Assert.Equal(high, interval.High, 4);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    public void One_observation_gives_a_wide_interval_never_a_point(long successes, long trials)
    {
        var interval = ConfidenceIntervals.Wilson(successes, trials);
        Assert.True(interval.High - interval.Low > 0.75, $"[{interval.Low}, {interval.High}]");
        Assert.InRange(successes / (double)trials, interval.Low, interval.High);
    }

    [Theory]
    // The figures: Wald gave +1.6 to +58.4 pp from a holdout of one cart, and 0.0 to 0.0 pp from 10/10 vs 2/2.
    [InlineData(3, 10, 0, 1)]
    [InlineData(10, 10, 2, 2)]
    [InlineData(0, 1, 1, 1)]
    [InlineData(1, 1, 0, 1)]
    public void Differences_of_tiny_samples_are_wide_and_shown_as_too_few_to_tell(long s1, long n1, long s2, long n2)
    {
        var interval = ConfidenceIntervals.Newcombe(s1, n1, s2, n2);
        Assert.True(interval.High - interval.Low > 0.5, $"[{interval.Low}, {interval.High}]");
        Assert.Null(ConfidenceIntervals.DifferenceIfEnough(s1, n1, s2, n2));
        Assert.StartsWith(ConfidenceIntervals.TooFew, ConfidenceIntervals.Describe(null, Points));
    }

    [Fact]
    public void The_minimum_is_ten_in_each_group()
    {
        Assert.Null(ConfidenceIntervals.DifferenceIfEnough(5, 9, 5, 100));
        Assert.Null(ConfidenceIntervals.DifferenceIfEnough(5, 100, 5, 9));
        var interval = ConfidenceIntervals.DifferenceIfEnough(3, 10, 0, 10);
        Assert.Equal(ConfidenceIntervals.Newcombe(3, 10, 0, 10), interval);
        Assert.Equal("95% CI -3.8 pp, +60.3 pp", ConfidenceIntervals.Describe(interval, Points));
    }

    [Fact]
    public void Intervals_stay_within_their_range_and_contain_the_estimate()
    {
        for (var n = 1; n <= 40; n++)
            for (var s = 0; s <= n; s++)
            {
                var wilson = ConfidenceIntervals.Wilson(s, n);
                Assert.InRange(wilson.Low, 0, (double)s / n);
                Assert.InRange(wilson.High, (double)s / n, 1);
                Assert.True(wilson.High > wilson.Low);
                var difference = ConfidenceIntervals.Newcombe(s, n, n - s, n);
                Assert.InRange((s - (n - s)) / (double)n, difference.Low, difference.High);
                Assert.True(difference.Low >= -1 && difference.High <= 1 && difference.High > difference.Low);
            }
    }

    [Fact]
    public void Impossible_counts_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfidenceIntervals.Wilson(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfidenceIntervals.Wilson(-1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfidenceIntervals.Newcombe(1, 1, 2, 1));
    }

    private static string Points(double share) => (share * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " pp";
}
