using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>How well one score ranks the abandoned carts that were later lost above those that converted.</summary>
public sealed record ScoreAuc(string ScoreKind, string Description, AucResult Result);

/// <summary>
/// The risk score against what happened: for each abandoned cart (recovery_outcomes), its score when it was left (the
/// case's <c>abandoned</c> audit row) and, for carts that got a step-1 reminder, that reminder's <c>score</c> (the one
/// that decided it) and <c>send_time_score</c>; the outcome is whether the cart converted within the attribution window.
/// The query counts carts and lost carts per score; <see cref="RocAuc"/> turns each score's counts into the area under
/// the ROC curve, lost carts being the positives (above 0.5: the riskier carts were lost more often).
/// </summary>
public static class ScoreRanking
{
    public static readonly AnalystQuery ScoreCounts = new(
        "risk-score-against-outcome",
        "How many abandoned carts, and how many of them lost (not converted within the attribution window), had each risk score: at abandonment, on the step-1 reminder, and at its send time?",
        """
        SELECT score_kind, score, count() AS carts, countIf(converted = 0) AS lost
        FROM
        (
            SELECT o.converted AS converted, a.score AS abandonment_score, t.reminded AS reminded, t.score AS trigger_score,
                   t.send_time_score AS send_time_score
            FROM recovery_outcomes AS o
            INNER JOIN
            (
                SELECT shopper_id, session_id, event_time, argMax(score, audit_id) AS score FROM audit_log FINAL
                WHERE decision = 'abandoned' GROUP BY shopper_id, session_id, event_time
            ) AS a ON a.shopper_id = o.shopper_id AND a.session_id = o.session_id AND a.event_time = o.abandoned_at
            LEFT JOIN
            (
                SELECT shopper_id, session_id, 1 AS reminded, argMin(score, event_time) AS score, argMin(send_time_score, event_time) AS send_time_score
                FROM recovery_triggers FINAL WHERE kind = 'reminder' AND step = 1 GROUP BY shopper_id, session_id
            ) AS t ON t.shopper_id = o.shopper_id AND t.session_id = o.session_id
        )
        ARRAY JOIN
            ['abandonment', 'trigger', 'send_time'] AS score_kind,
            [abandonment_score, trigger_score, send_time_score] AS score,
            [1, reminded, reminded] AS counted
        WHERE counted = 1
        GROUP BY score_kind, score
        ORDER BY score_kind, score
        """);

    /// <summary>The scores in the order outputs show them, with what each one is.</summary>
    public static IReadOnlyList<(string Kind, string Description)> Kinds { get; } =
    [
        ("abandonment", "score when the cart was left (every abandoned cart)"),
        ("trigger", "step-1 reminder's score (the one that decided it)"),
        ("send_time", "step-1 reminder's score at send time (decides nothing)"),
    ];

    /// <summary>The AUC of each score from the query's counts; a score with no rows has nothing to rank (undefined).</summary>
    public static IReadOnlyList<ScoreAuc> FromTable(QueryTable counts) => [.. Kinds.Select(k => new ScoreAuc(k.Kind, k.Description, RocAuc.FromCounts(
        counts.RowIndexes.Where(i => counts.Text(i, "score_kind") == k.Kind).Select(i =>
        {
            var (carts, lost) = ((long)counts.Number(i, "carts"), (long)counts.Number(i, "lost"));
            return new ScoredCount(counts.Number(i, "score"), lost, carts - lost);
        }))))];

    public static async Task<IReadOnlyList<ScoreAuc>> ReadAsync(IAnalyticsStore store, CancellationToken ct) =>
        FromTable(QueryTable.Parse(await store.QueryAsync(ScoreCounts.Sql, QueryTable.Format, ct)));
}
