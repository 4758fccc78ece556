using System.Globalization;

namespace CartRecovery.Analytics;

/// <summary>A two-sided confidence interval.</summary>
public readonly record struct Interval(double Low, double High);

/// <summary>
/// The one implementation of the confidence intervals every figure shows (run summary, report, backtest). The Wald
/// interval (p ± 1.96·√(p(1−p)/n)) collapses to zero width exactly when a sample is smallest (0/1, 10/10); these do
/// not:
/// <list type="bullet">
/// <item><see cref="Wilson"/>: Wilson's score interval for one proportion (Wilson 1927), never of zero width, always
/// inside [0, 1];</item>
/// <item><see cref="Newcombe"/>: Newcombe's hybrid score interval for a difference of two independent proportions,
/// method 10 of Newcombe (1998), built from the two groups' Wilson intervals.</item>
/// </list>
/// With fewer than <see cref="MinimumGroup"/> observations in a group the figures say <see cref="TooFew"/> instead:
/// an interval is honest at any size, but from a handful of carts it spans most of the axis and says nothing a reader
/// should act on.
/// </summary>
public static class ConfidenceIntervals
{
    /// <summary>The standard normal quantile of a two-sided 95 % interval.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>Fewest observations a group needs for an interval to be shown.</summary>
    public const int MinimumGroup = 10;

    public const string TooFew = "too few to tell";

    /// <summary>Whether both groups have at least <see cref="MinimumGroup"/> observations.</summary>
    public static bool EnoughToTell(long trials1, long trials2) => trials1 >= MinimumGroup && trials2 >= MinimumGroup;

    /// <summary>Wilson's score interval for <paramref name="successes"/> of <paramref name="trials"/>; [0, 1] without trials.</summary>
    public static Interval Wilson(long successes, long trials, double z = Z95)
    {
        Check(successes, trials);
        if (trials == 0) return new Interval(0, 1);
        double n = trials, p = successes / n, z2 = z * z;
        var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        var half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        // At 0 or n successes the bound is exactly 0 or 1; rounding must not move it off.
        return new Interval(successes == 0 ? 0 : Math.Max(0, centre - half), successes == trials ? 1 : Math.Min(1, centre + half));
    }

    /// <summary>Newcombe's hybrid score interval (method 10) for p1 − p2, the difference of two independent proportions.</summary>
    public static Interval Newcombe(long successes1, long trials1, long successes2, long trials2, double z = Z95)
    {
        Check(successes1, trials1);
        Check(successes2, trials2);
        if (trials1 == 0 || trials2 == 0) return new Interval(-1, 1);
        double p1 = (double)successes1 / trials1, p2 = (double)successes2 / trials2;
        var (w1, w2) = (Wilson(successes1, trials1, z), Wilson(successes2, trials2, z));
        var difference = p1 - p2;
        return new Interval(
            Math.Max(-1, difference - Math.Sqrt(Square(p1 - w1.Low) + Square(w2.High - p2))),
            Math.Min(1, difference + Math.Sqrt(Square(w1.High - p1) + Square(p2 - w2.Low))));
    }

    /// <summary>The interval of p1 − p2 when both groups are large enough to tell, else null.</summary>
    public static Interval? DifferenceIfEnough(long successes1, long trials1, long successes2, long trials2) =>
        EnoughToTell(trials1, trials2) ? Newcombe(successes1, trials1, successes2, trials2) : null;

    /// <summary>"95% CI low, high" with the figure's own number format, or why there is no interval.</summary>
    public static string Describe(Interval? interval, Func<double, string> format) =>
        interval is { } i ? $"95% CI {format(i.Low)}, {format(i.High)}" : $"{TooFew}: fewer than {MinimumGroup} in a group";

    private static double Square(double x) => x * x;

    private static void Check(long successes, long trials)
    {
        if (trials < 0 || successes < 0 || successes > trials)
            throw new ArgumentOutOfRangeException(nameof(successes), $"{successes} successes of {trials} trials");
    }
}

/// <summary>The interval of each figure that has one, from the counts its one query returns
/// (<see cref="AnalystQueries.LiftVsHoldout"/>, <see cref="FeedbackQueries.VariantComparison"/>,
/// <see cref="FeedbackQueries.ChatAbandonmentReduction"/>): the run summary, the report and the backtest read them here.</summary>
public static class FigureIntervals
{
    /// <summary>Lift = conversion of the reminded carts − conversion of the holdout; null when too few to tell.</summary>
    public static Interval? Lift(QueryTable table, int row = 0) => ConfidenceIntervals.DifferenceIfEnough(
        Count(table, row, "treated_converted"), Count(table, row, "treated_carts"), Count(table, row, "holdout_converted"), Count(table, row, "holdout_carts"));

    /// <summary>Abandonment reduction = abandonment of the chat holdout − abandonment with the chat offered; null when too few to tell.</summary>
    public static Interval? ChatAbandonmentReduction(QueryTable table, int row = 0) => ConfidenceIntervals.DifferenceIfEnough(
        Count(table, row, "holdout_abandoned"), Count(table, row, "holdout_sessions"), Count(table, row, "offered_abandoned"), Count(table, row, "offered_sessions"));

    /// <summary>The query's table with its interval as one more column (<c>lift_95_ci</c>, <c>reduction_95_ci</c>) for
    /// queries that have one; other tables unchanged.</summary>
    public static QueryTable WithIntervalColumn(AnalystQuery query, QueryTable table)
    {
        Func<QueryTable, int, Interval?>? interval = query.Name switch
        {
            var name when name == FeedbackQueries.VariantComparison.Name => (t, i) => Lift(t, i),
            var name when name == FeedbackQueries.ChatAbandonmentReduction.Name => (t, i) => ChatAbandonmentReduction(t, i),
            _ => null,
        };
        if (interval is null) return table;
        var column = query.Name == FeedbackQueries.VariantComparison.Name ? "lift_95_ci" : "reduction_95_ci";
        return table.WithColumn(column, i => interval(table, i) is { } ci
            ? string.Create(CultureInfo.InvariantCulture, $"[{ci.Low:0.0000}, {ci.High:0.0000}]")
            : ConfidenceIntervals.TooFew);
    }

    private static long Count(QueryTable table, int row, string column) => (long)table.Number(row, column);
}
