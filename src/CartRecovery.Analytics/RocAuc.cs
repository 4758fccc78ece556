namespace CartRecovery.Analytics;

/// <summary>Observations with one score: how many of them are positive and how many negative.</summary>
public readonly record struct ScoredCount(double Score, long Positives, long Negatives);

/// <summary>The area under the ROC curve of a score against a two-class outcome, with the counts it comes from;
/// <see cref="Auc"/> is null when either class is empty (no pair to rank: undefined, not 0.5 and not NaN).</summary>
public sealed record AucResult(long Positives, long Negatives, double? Auc)
{
    public const string Undefined = "undefined";

    /// <summary>"0.4370", or why there is none ("undefined: no negative").</summary>
    public string Describe(string positives = "positive", string negatives = "negative") => Auc is { } auc
        ? auc.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture)
        : Positives == 0 && Negatives == 0 ? $"{Undefined}: nothing to rank"
        : $"{Undefined}: every one {(Positives == 0 ? negatives : positives)} (one class)";
}

/// <summary>
/// The area under the ROC curve, computed as the Mann-Whitney statistic: the share of (positive, negative) pairs in which
/// the positive has the higher score, a tie counting one half. That is the probability that a random positive outranks a
/// random negative; 0.5 is chance. Computed from counts per distinct score (what a GROUP BY score returns), so a store
/// of millions of carts hands over at most one row per score (scores are rounded to 4 decimals: at most 10,001).
/// </summary>
public static class RocAuc
{
    public static AucResult FromCounts(IEnumerable<ScoredCount> counts)
    {
        // Pool equal scores first: a caller may hand over several rows for one score.
        var byScore = new SortedDictionary<double, (long Positives, long Negatives)>();
        foreach (var c in counts)
        {
            if (c.Positives < 0 || c.Negatives < 0) throw new ArgumentOutOfRangeException(nameof(counts), $"negative count at score {c.Score}");
            if (double.IsNaN(c.Score)) throw new ArgumentOutOfRangeException(nameof(counts), "a score of NaN cannot be ranked");
            var (p, n) = byScore.GetValueOrDefault(c.Score);
            byScore[c.Score] = (p + c.Positives, n + c.Negatives);
        }
        long positives = 0, negatives = 0;
        // Pairs won by positives, doubled so a tie (one half) stays a whole number; decimal keeps it exact (up to 7.9e28 pairs).
        decimal doubledWins = 0;
        foreach (var (p, n) in byScore.Values)
        {
            // Ascending scores: every negative seen so far scored lower than these positives; this score's negatives tie.
            doubledWins += 2m * p * negatives + (decimal)p * n;
            positives += p;
            negatives += n;
        }
        if (positives == 0 || negatives == 0) return new AucResult(positives, negatives, null);
        return new AucResult(positives, negatives, (double)(doubledWins / (2m * positives * negatives)));
    }

    /// <summary>The AUC of individual observations (score, positive?).</summary>
    public static AucResult FromObservations(IEnumerable<(double Score, bool Positive)> observations) =>
        FromCounts(observations.Select(o => new ScoredCount(o.Score, o.Positive ? 1 : 0, o.Positive ? 0 : 1)));
}
