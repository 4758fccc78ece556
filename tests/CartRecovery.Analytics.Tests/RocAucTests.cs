namespace CartRecovery.Analytics.Tests;

/// <summary>The area under the ROC curve (<see cref="RocAuc"/>): small examples worked by hand, ties as one half, the
/// pair-by-pair definition on a larger set, and no number when one class is empty.</summary>
public sealed class RocAucTests
{
    private static AucResult Of(double[] positives, double[] negatives) =>
        RocAuc.FromObservations([.. positives.Select(s => (s, true)), .. negatives.Select(s => (s, false))]);

    [Fact]
    public void Perfect_reversed_and_partial_rankings()
    {
        Assert.Equal(1.0, Of([0.9, 0.8], [0.2, 0.1]).Auc);
        Assert.Equal(0.0, Of([0.2, 0.1], [0.9, 0.8]).Auc);
        // Pairs won by the positive: 0.8 beats both, 0.6 and 0.4 beat 0.3 only: 4 of 6.
        Assert.Equal(4.0 / 6, Of([0.8, 0.6, 0.4], [0.7, 0.3]).Auc!.Value, 12);
    }

    [Fact]
    public void A_tie_counts_one_half()
    {
        // (0.5, 0.5) tie twice, (0.5, 0.2) won twice: (0.5 + 1 + 0.5 + 1) / 4.
        Assert.Equal(0.75, Of([0.5, 0.5], [0.5, 0.2]).Auc);
        Assert.Equal(0.5, Of([0.3, 0.3, 0.3], [0.3, 0.3]).Auc);
    }

    [Fact]
    public void Counts_per_score_give_the_same_as_observations_and_rows_of_one_score_are_pooled()
    {
        var fromCounts = RocAuc.FromCounts([new ScoredCount(0.5, 1, 0), new ScoredCount(0.2, 0, 1), new ScoredCount(0.5, 1, 1)]);
        Assert.Equal(Of([0.5, 0.5], [0.5, 0.2]), fromCounts);
        Assert.Equal((2, 2), (fromCounts.Positives, fromCounts.Negatives));
    }

    [Fact]
    public void Matches_the_pairwise_definition_on_a_larger_set_with_many_ties()
    {
        var random = new Random(23);
        var observations = Enumerable.Range(0, 400).Select(_ => (Score: Math.Round(random.NextDouble(), 1), Positive: random.NextDouble() < 0.3)).ToList();
        var positives = observations.Where(o => o.Positive).Select(o => o.Score).ToList();
        var negatives = observations.Where(o => !o.Positive).Select(o => o.Score).ToList();
        var wins = positives.Sum(p => negatives.Sum(n => p > n ? 1.0 : p == n ? 0.5 : 0));

        Assert.Equal(wins / (positives.Count * negatives.Count), RocAuc.FromObservations(observations).Auc!.Value, 12);
    }

    [Fact]
    public void One_class_only_is_undefined_not_a_number()
    {
        var allLost = Of([0.9, 0.4, 0.1], []);
        Assert.Null(allLost.Auc);
        Assert.Equal((3, 0), (allLost.Positives, allLost.Negatives));
        Assert.Equal("undefined: every one lost (one class)", allLost.Describe("lost", "converted"));
        Assert.Equal("undefined: every one converted (one class)", Of([], [0.3]).Describe("lost", "converted"));
        Assert.Null(Of([], []).Auc);
        Assert.Equal("undefined: nothing to rank", Of([], []).Describe());
        Assert.Equal("0.7500", Of([0.5, 0.5], [0.5, 0.2]).Describe());
    }

    [Fact]
    public void Refuses_what_cannot_be_ranked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RocAuc.FromCounts([new ScoredCount(double.NaN, 1, 0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => RocAuc.FromCounts([new ScoredCount(0.5, -1, 2)]));
    }
}
