namespace CartRecovery.Analytics;

/// <summary>
/// What the shopper profiles (<c>shopper_profiles</c>, docs/analytics.md "Customer profiles") and the win-back messages
/// they drive say, one SQL definition each. Part of <see cref="AnalystQueries.All"/>: docs/analytics.md quotes them
/// verbatim and the report's "Shopper profiles" section shows them (<see cref="ProfileFigures"/>).
/// </summary>
public static class ProfileQueries
{
    /// <summary>Every segment the domain knows (<c>ProfileSegments.All</c>), zero ones included, so a reader sees which
    /// segment is empty rather than missing.</summary>
    public static readonly AnalystQuery Segments = new(
        "shopper-profiles-by-segment",
        "How many shoppers are in each profile segment (new, active, at risk, lapsed), and what share of all profiled shoppers is that?",
        """
        SELECT
            segment_name AS segment,
            countIf(p.segment = segment_name) AS shoppers,
            round(shoppers / count(), 4) AS share_of_shoppers
        FROM shopper_profiles AS p FINAL
        ARRAY JOIN ['new', 'active', 'at_risk', 'lapsed'] AS segment_name
        GROUP BY segment_name
        ORDER BY indexOf(['new', 'active', 'at_risk', 'lapsed'], segment_name)
        """);

    /// <summary>Buckets on the segment thresholds (0.5 at risk, 0.85 lapsed), with 0 (not overdue, or no order yet) apart.</summary>
    public static readonly AnalystQuery ChurnRiskDistribution = new(
        "churn-risk-distribution",
        "How is churn risk distributed over the profiled shoppers (0 = not overdue or no order yet; 0.5 and 0.85 are where at risk and lapsed begin)?",
        """
        SELECT
            bucket,
            ['0 (not overdue)', '0-0.25', '0.25-0.5', '0.5-0.85 (at risk)', '0.85-1 (lapsed)'][bucket] AS churn_risk,
            countIf(shopper_bucket = bucket) AS shoppers,
            round(shoppers / count(), 4) AS share_of_shoppers
        FROM
        (
            SELECT multiIf(churn_risk <= 0, 1, churn_risk < 0.25, 2, churn_risk < 0.5, 3, churn_risk < 0.85, 4, 5) AS shopper_bucket
            FROM shopper_profiles FINAL
        )
        ARRAY JOIN [1, 2, 3, 4, 5] AS bucket
        GROUP BY bucket
        ORDER BY bucket
        """);

    /// <summary>Quantiles over customers (an order at least): a prospect's lifetime value is 0 by definition and would
    /// bury the distribution. Per currency: values in different currencies are never put in one quantile or sum.</summary>
    public static readonly AnalystQuery LifetimeValueByCurrency = new(
        "lifetime-value-by-currency",
        "How is the estimated lifetime value of customers (shoppers with an order) distributed, in each currency (quartiles, 90th percentile, maximum, total)?",
        """
        SELECT
            monetary_currency AS currency,
            count() AS shoppers,
            countIf(order_count > 0) AS customers,
            round(if(customers = 0, 0, quantileExactIf(0.25)(toFloat64(lifetime_value), order_count > 0)), 2) AS ltv_p25,
            round(if(customers = 0, 0, quantileExactIf(0.5)(toFloat64(lifetime_value), order_count > 0)), 2) AS ltv_median,
            round(if(customers = 0, 0, quantileExactIf(0.75)(toFloat64(lifetime_value), order_count > 0)), 2) AS ltv_p75,
            round(if(customers = 0, 0, quantileExactIf(0.9)(toFloat64(lifetime_value), order_count > 0)), 2) AS ltv_p90,
            max(lifetime_value) AS ltv_max,
            sum(lifetime_value) AS ltv_total
        FROM shopper_profiles FINAL
        GROUP BY currency
        ORDER BY currency
        """);

    /// <summary>A win-back is followed by an order when the shopper orders (any session) within the attribution window
    /// after it: 432000 s, the store's 5 days, as <see cref="AnalystQueries.RecoveryFunnel"/> counts. Win-back has no
    /// holdout, so this is an order rate, not a lift.</summary>
    public static readonly AnalystQuery WinBackResults = new(
        "win-back-results",
        "Of the win-back messages sent, how many were followed by an order of the shopper within the attribution window (5 days), and how many win-backs were suppressed?",
        """
        SELECT
            sent.win_backs_sent AS win_backs_sent,
            sent.ordered_within_window AS ordered_within_window,
            round(if(win_backs_sent = 0, 0, ordered_within_window / win_backs_sent), 4) AS order_rate,
            suppressed.win_backs_suppressed AS win_backs_suppressed
        FROM
        (
            SELECT count() AS win_backs_sent, countIf(ordered) AS ordered_within_window
            FROM
            (
                SELECT w.trigger_id AS trigger_id,
                       countIf(o.ordered_at >= w.event_time AND o.ordered_at <= w.event_time + toIntervalSecond(432000)) > 0 AS ordered
                FROM (SELECT trigger_id, shopper_id, event_time FROM recovery_triggers FINAL WHERE kind = 'win_back') AS w
                LEFT JOIN (SELECT shopper_id, assumeNotNull(ordered_at) AS ordered_at FROM session_outcomes FINAL WHERE ordered_at IS NOT NULL) AS o
                    ON o.shopper_id = w.shopper_id
                GROUP BY w.trigger_id
            )
        ) AS sent
        CROSS JOIN (SELECT count() AS win_backs_suppressed FROM audit_log FINAL WHERE kind = 'win_back' AND decision = 'suppressed') AS suppressed
        """);

    public static readonly AnalystQuery WinBackSuppressions = new(
        "win-back-suppressions-by-reason",
        "Why were win-back messages not sent: how many suppressions for each reason?",
        """
        SELECT reason, count() AS suppressions
        FROM audit_log FINAL
        WHERE kind = 'win_back' AND decision = 'suppressed'
        GROUP BY reason
        ORDER BY suppressions DESC, reason
        """);

    /// <summary>The queries of shopper_profiles: erasing a shopper deletes their profile, so these counts drop by one then
    /// (unlike every figure of <see cref="AnalystQueries.All"/>, which the shopper's pseudonymised rows keep).</summary>
    public static IReadOnlyList<AnalystQuery> OfProfiles { get; } = [Segments, ChurnRiskDistribution, LifetimeValueByCurrency];

    public static IReadOnlyList<AnalystQuery> All { get; } = [.. OfProfiles, WinBackResults, WinBackSuppressions];
}
