namespace CartRecovery.Analytics;

/// <summary>A question analysts ask, and the one SQL query that answers it (documented verbatim in docs/analytics.md).</summary>
public sealed record AnalystQuery(string Name, string Question, string Sql);

/// <summary>
/// The analysts' queries: the one place they live. docs/analytics.md quotes each verbatim (a test checks it),
/// the report runs them, and the tests run them on data produced by the real pipeline. All read through FINAL
/// (or the recovery_outcomes view, which does), so a re-delivered batch changes no result.
/// </summary>
public static class AnalystQueries
{
    /// <summary>The figures the run summary, the report and the backtest all show, each defined once, here: sessions and
    /// orders from session_outcomes, abandoned carts and their conversion, recovery and holdout from recovery_outcomes
    /// (the view's definitions), triggers from recovery_triggers, suppressions from audit_log.</summary>
    public static readonly AnalystQuery HeadlineFigures = new(
        "headline-figures",
        "How many sessions, orders, abandoned carts (converted, recovered after a reminder, in the holdout), triggers and suppressions are there?",
        """
        SELECT
            outcomes.sessions AS sessions,
            outcomes.orders AS orders,
            carts.carts_abandoned AS carts_abandoned,
            carts.carts_converted AS carts_converted,
            carts.carts_recovered AS carts_recovered,
            carts.carts_in_holdout AS carts_in_holdout,
            triggers.triggers AS triggers,
            triggers.reminders AS reminders,
            triggers.proactive_chats AS proactive_chats,
            audit.suppressions AS suppressions
        FROM (SELECT count() AS sessions, countIf(ordered_at IS NOT NULL) AS orders FROM session_outcomes FINAL) AS outcomes
        CROSS JOIN
        (
            SELECT count() AS carts_abandoned, countIf(converted = 1) AS carts_converted, countIf(recovered = 1) AS carts_recovered,
                   countIf(holdout) AS carts_in_holdout
            FROM recovery_outcomes
        ) AS carts
        CROSS JOIN
        (
            SELECT count() AS triggers, countIf(kind = 'reminder') AS reminders, countIf(kind = 'proactive_chat') AS proactive_chats
            FROM recovery_triggers FINAL
        ) AS triggers
        CROSS JOIN (SELECT countIf(decision = 'suppressed') AS suppressions FROM audit_log FINAL) AS audit
        """);

    public static readonly AnalystQuery RevenueRecoveredByCurrency = new(
        "revenue-recovered-by-currency",
        "How much revenue did recovered carts bring back, in each currency (amounts in different currencies are never added)?",
        """
        SELECT
            revenue_currency AS currency,
            count() AS recovered_carts,
            sum(revenue) AS revenue_recovered
        FROM recovery_outcomes
        WHERE recovered = 1
        GROUP BY currency
        ORDER BY currency
        """);

    public static readonly AnalystQuery TriggersByKindStepChannel = new(
        "triggers-by-kind-step-channel",
        "How many triggers of each kind went out, at each step and on each channel?",
        """
        SELECT kind, step, channel, count() AS triggers
        FROM recovery_triggers FINAL
        GROUP BY kind, step, channel
        ORDER BY kind, step, channel
        """);

    public static readonly AnalystQuery SuppressionsByReason = new(
        "suppressions-by-reason",
        "Why were messages not sent: how many suppressions for each reason?",
        """
        SELECT reason, count() AS suppressions
        FROM audit_log FINAL
        WHERE decision = 'suppressed'
        GROUP BY reason
        ORDER BY suppressions DESC, reason
        """);

    public static readonly AnalystQuery RecoveryRateByDayStepChannel = new(
        "recovery-rate-by-day-step-channel",
        "Of the reminders sent each day, at each step and on each channel, how many were the last touch before a recovered order?",
        """
        SELECT
            day,
            step,
            channel,
            t.reminders AS reminders,
            r.recoveries AS recoveries,
            round(recoveries / reminders, 4) AS last_touch_rate
        FROM
        (
            SELECT toDate(event_time) AS day, step, channel, count() AS reminders
            FROM recovery_triggers FINAL
            WHERE kind = 'reminder'
            GROUP BY day, step, channel
        ) AS t
        LEFT JOIN
        (
            SELECT toDate(assumeNotNull(last_touch_at)) AS day, last_touch_step AS step, last_touch_channel AS channel, count() AS recoveries
            FROM recovery_outcomes
            WHERE recovered = 1
            GROUP BY day, step, channel
        ) AS r USING (day, step, channel)
        ORDER BY day, step, channel
        """);

    public static readonly AnalystQuery RevenueRecovered = new(
        "revenue-recovered",
        "How much revenue did reminded carts bring back, by currency and last-touch step and channel?",
        """
        SELECT
            revenue_currency AS currency,
            last_touch_step,
            last_touch_channel,
            count() AS recovered_carts,
            sum(revenue) AS revenue_recovered
        FROM recovery_outcomes
        WHERE recovered = 1
        GROUP BY currency, last_touch_step, last_touch_channel
        ORDER BY currency, last_touch_step, last_touch_channel
        """);

    public static readonly AnalystQuery LiftVsHoldout = new(
        "lift-vs-holdout",
        "Do reminders make more abandoned carts convert than the holdout that got none (incremental lift, 95% confidence interval)?",
        """
        SELECT
            countIf(NOT holdout) AS treated_carts,
            countIf(NOT holdout AND converted = 1) AS treated_converted,
            countIf(holdout) AS holdout_carts,
            countIf(holdout AND converted = 1) AS holdout_converted,
            treated_converted / treated_carts AS treated_rate,
            holdout_converted / holdout_carts AS holdout_rate,
            treated_rate - holdout_rate AS lift
        FROM recovery_outcomes
        """);

    public static readonly AnalystQuery OriginComparison = new(
        "abandonment-and-recovery-by-origin",
        "How do shoppers arriving from web, app, instagram and tiktok differ in cart abandonment and recovery?",
        """
        SELECT
            s.origin_channel AS origin_channel,
            count() AS sessions,
            countIf(s.furthest_step != 'browsing') AS carts,
            countIf(s.abandoned_at IS NOT NULL) AS abandoned,
            round(abandoned / carts, 4) AS abandonment_rate,
            sum(r.recovered) AS recovered,
            round(recovered / abandoned, 4) AS recovered_share_of_abandoned,
            mapFilter((currency, revenue) -> currency != '', sumMap(map(r.revenue_currency, r.revenue))) AS revenue_recovered_by_currency
        FROM session_outcomes AS s FINAL
        LEFT JOIN recovery_outcomes AS r ON r.shopper_id = s.shopper_id AND r.session_id = s.session_id AND r.started_at = s.started_at
        GROUP BY origin_channel
        ORDER BY origin_channel
        """);

    public static readonly AnalystQuery ShoppingFunnel = new(
        "shopping-funnel",
        "How many sessions reach each funnel step (cart, checkout, payment, order), and what share goes on from the step before?",
        """
        SELECT
            level,
            ['session', 'cart', 'checkout', 'payment', 'order'][level] AS step,
            countIf(reached >= level) AS sessions,
            round(sessions / first_value(sessions) OVER (ORDER BY level), 4) AS share_of_sessions,
            round(sessions / lagInFrame(sessions, 1, sessions) OVER (ORDER BY level), 4) AS conversion_from_previous
        FROM
        (
            SELECT if(ordered_at IS NOT NULL, 5, indexOf(['browsing', 'cart', 'checkout', 'payment'], furthest_step)) AS reached
            FROM session_outcomes FINAL
        )
        ARRAY JOIN [1, 2, 3, 4, 5] AS level
        GROUP BY level
        ORDER BY level
        """);

    public static readonly AnalystQuery RecoveryFunnel = new(
        "recovery-funnel",
        "Of the abandoned carts that could be reminded (not holdout), how many got a reminder, and how many ordered after it within the attribution window (windowFunnel)?",
        """
        SELECT
            stage_level,
            stage,
            countIf(level >= stage_level) AS carts
        FROM
        (
            SELECT shopper_id, session_id, windowFunnel(432000)(ts, event = 'abandoned', event = 'reminded', event = 'ordered') AS level
            FROM
            (
                SELECT shopper_id, session_id, toDateTime(abandoned_at) AS ts, 'abandoned' AS event FROM recovery_outcomes WHERE NOT holdout
                UNION ALL
                SELECT shopper_id, session_id, toDateTime(event_time), 'reminded' FROM recovery_triggers FINAL WHERE kind = 'reminder'
                UNION ALL
                SELECT shopper_id, session_id, toDateTime(ordered_at), 'ordered' FROM recovery_outcomes WHERE NOT holdout AND converted = 1
            )
            GROUP BY shopper_id, session_id
            HAVING level > 0
        )
        ARRAY JOIN [1, 2, 3] AS stage_level, ['abandoned', 'reminded', 'ordered after reminder'] AS stage
        GROUP BY stage_level, stage
        ORDER BY stage_level
        """);

    public static readonly AnalystQuery TimeToRecovery = new(
        "time-to-recovery",
        "How long after abandonment do recovered carts order?",
        """
        SELECT
            multiIf(seconds_to_order < 3600, 1, seconds_to_order < 7200, 2, seconds_to_order < 14400, 3, seconds_to_order < 86400, 4, 5) AS bucket,
            ['< 1 h', '1-2 h', '2-4 h', '4-24 h', '1-5 days'][bucket] AS time_to_recovery,
            count() AS recovered_carts,
            sum(revenue) AS revenue_recovered
        FROM recovery_outcomes
        WHERE recovered = 1
        GROUP BY bucket
        ORDER BY bucket
        """);

    public static readonly AnalystQuery AuditCompleteness = new(
        "audit-completeness",
        "Is the audit trail complete: does every reminder's audit row carry the consent it relied on, and does every suppression have a reason?",
        """
        WITH
            reminders AS (SELECT trigger_id, consent_event_id FROM recovery_triggers FINAL WHERE kind = 'reminder'),
            triggered AS (SELECT extract(detail, 'trigger_id=([0-9a-f]+)') AS trigger_id, evidence FROM audit_log FINAL WHERE decision = 'triggered'),
            suppressions AS (SELECT reason FROM audit_log FINAL WHERE decision = 'suppressed')
        SELECT
            (SELECT count() FROM reminders) AS reminders,
            (SELECT count() FROM reminders AS m INNER JOIN triggered AS a ON a.trigger_id = m.trigger_id
             WHERE m.consent_event_id != '' AND has(a.evidence, m.consent_event_id)) AS reminders_with_consent_evidence,
            round(reminders_with_consent_evidence / reminders, 4) AS consent_evidence_share,
            (SELECT count() FROM suppressions) AS suppressions,
            (SELECT countIf(reason != '') FROM suppressions) AS suppressions_with_reason,
            round(suppressions_with_reason / suppressions, 4) AS reason_share
        """);

    /// <summary>Every figure that erasing a shopper leaves unchanged (their rows stay under pseudonyms). The profile
    /// distributions (<see cref="ProfileQueries.OfProfiles"/>) are not among them: erasure deletes the shopper's profile.</summary>
    public static IReadOnlyList<AnalystQuery> All { get; } =
    [
        HeadlineFigures, RevenueRecoveredByCurrency, TriggersByKindStepChannel, SuppressionsByReason, RecoveryRateByDayStepChannel, RevenueRecovered, LiftVsHoldout, OriginComparison, ShoppingFunnel, RecoveryFunnel,
        TimeToRecovery, AuditCompleteness, .. FeedbackQueries.All, ProfileQueries.WinBackResults, ProfileQueries.WinBackSuppressions,
        ScoreRanking.ScoreCounts,
    ];
}
