namespace CartRecovery.Analytics;

/// <summary>
/// The metrics of the closed loop (outcomes reported back on outcome-events), one SQL definition each, with their
/// denominators as columns so every figure can be read as "x of n". Part of <see cref="AnalystQueries.All"/>:
/// docs/analytics.md quotes them verbatim and the report shows them.
/// </summary>
public static class FeedbackQueries
{
    public static readonly AnalystQuery RecoveryRate = new(
        "recovery-rate",
        "Of the abandoned carts that could be reminded (not in the holdout), what share was recovered (ordered after a reminder)?",
        """
        SELECT
            countIf(NOT holdout) AS remindable_carts,
            countIf(NOT holdout AND recovered = 1) AS recovered_carts,
            round(if(remindable_carts = 0, 0, recovered_carts / remindable_carts), 4) AS recovery_rate
        FROM recovery_outcomes
        """);

    public static readonly AnalystQuery AverageOrderValue = new(
        "average-order-value-recovered-vs-other",
        "What is the average order value of recovered orders against every other order, in each currency?",
        """
        SELECT
            o.currency AS currency,
            if(r.recovered = 1, 'recovered', 'other') AS orders_of,
            count() AS orders,
            sum(o.order_value) AS revenue,
            round(toFloat64(revenue) / orders, 2) AS average_order_value
        FROM
        (
            SELECT shopper_id, session_id, order_value, if(order_currency != '', order_currency, currency) AS currency
            FROM session_outcomes FINAL
            WHERE ordered_at IS NOT NULL
        ) AS o
        LEFT JOIN
        (
            SELECT DISTINCT shopper_id, order_session_id, recovered FROM recovery_outcomes WHERE recovered = 1
        ) AS r ON r.shopper_id = o.shopper_id AND r.order_session_id = o.session_id
        GROUP BY currency, orders_of
        ORDER BY currency, orders_of
        """);

    /// <summary>A message counts as delivered when the dispatcher said so or reported any engagement with it; as opened when
    /// opened or clicked (image blocking hides many opens that a click proves).</summary>
    public static readonly AnalystQuery MessageEngagement = new(
        "message-engagement-by-step-channel-variant",
        "Of the reminders sent at each step, on each channel and in each variant, what share was delivered, opened and clicked (opens and clicks of delivered messages), and how many bounced or drew a complaint?",
        """
        SELECT
            t.step AS step,
            t.channel AS channel,
            t.variant AS variant,
            count() AS sent,
            countIf(o.delivered = 1) AS delivered,
            countIf(o.opened = 1) AS opened,
            countIf(o.clicked = 1) AS clicked,
            countIf(o.bounced = 1) AS bounced,
            countIf(o.complained = 1) AS complained,
            round(delivered / sent, 4) AS delivery_rate,
            round(if(delivered = 0, 0, opened / delivered), 4) AS open_rate,
            round(if(delivered = 0, 0, clicked / delivered), 4) AS click_rate
        FROM
        (
            SELECT trigger_id, step, channel, variant FROM recovery_triggers FINAL WHERE kind = 'reminder'
        ) AS t
        LEFT JOIN
        (
            SELECT
                trigger_id,
                max(type IN ('message_delivered', 'message_opened', 'message_clicked')) AS delivered,
                max(type IN ('message_opened', 'message_clicked')) AS opened,
                max(type = 'message_clicked') AS clicked,
                max(type = 'message_bounced') AS bounced,
                max(type = 'message_complained') AS complained
            FROM outcome_events FINAL
            WHERE type LIKE 'message\_%'
            GROUP BY trigger_id
        ) AS o ON o.trigger_id = t.trigger_id
        GROUP BY step, channel, variant
        ORDER BY step, channel, variant
        """);

    /// <summary>Chat holdout: carts eligible for a proactive chat split into those offered one and a deterministic holdout
    /// (audited suppressed / chat_holdout); the session's outcome row tells whether the cart was then abandoned.</summary>
    public static readonly AnalystQuery ChatAbandonmentReduction = new(
        "chat-abandonment-reduction",
        "Do proactive chats reduce abandonment: of the sessions eligible for a chat, how many were abandoned with the chat offered against the chat holdout (absolute and relative reduction, 95% confidence interval)?",
        """
        SELECT
            countIf(NOT e.chat_holdout) AS offered_sessions,
            countIf(NOT e.chat_holdout AND s.abandoned) AS offered_abandoned,
            countIf(e.chat_holdout) AS holdout_sessions,
            countIf(e.chat_holdout AND s.abandoned) AS holdout_abandoned,
            offered_abandoned / offered_sessions AS offered_abandonment_rate,
            holdout_abandoned / holdout_sessions AS holdout_abandonment_rate,
            holdout_abandonment_rate - offered_abandonment_rate AS abandonment_reduction,
            if(holdout_abandonment_rate = 0, 0, abandonment_reduction / holdout_abandonment_rate) AS relative_reduction
        FROM
        (
            SELECT shopper_id, session_id, event_time, 0 AS chat_holdout FROM recovery_triggers FINAL WHERE kind = 'proactive_chat'
            UNION ALL
            SELECT shopper_id, session_id, event_time, 1 AS chat_holdout FROM audit_log FINAL WHERE decision = 'suppressed' AND reason = 'chat_holdout'
        ) AS e
        INNER JOIN
        (
            SELECT shopper_id, session_id, started_at, ended_at, abandoned_at IS NOT NULL AS abandoned FROM session_outcomes FINAL
        ) AS s ON s.shopper_id = e.shopper_id AND s.session_id = e.session_id
        WHERE e.event_time >= s.started_at AND e.event_time <= s.ended_at
        """);

    public static readonly AnalystQuery ChatConversion = new(
        "proactive-chat-conversion",
        "Of the proactive chats offered, how many were accepted, and how many of the offered and of the accepted sessions ordered after the chat?",
        """
        SELECT
            count() AS chats_offered,
            countIf(o.accepted = 1) AS chats_accepted,
            countIf(s.ordered_at IS NOT NULL AND s.ordered_at >= c.event_time) AS offered_then_ordered,
            countIf(o.accepted = 1 AND s.ordered_at IS NOT NULL AND s.ordered_at >= c.event_time) AS accepted_then_ordered,
            round(if(chats_offered = 0, 0, chats_accepted / chats_offered), 4) AS acceptance_rate,
            round(if(chats_offered = 0, 0, offered_then_ordered / chats_offered), 4) AS conversion_of_offered,
            round(if(chats_accepted = 0, 0, accepted_then_ordered / chats_accepted), 4) AS conversion_of_accepted
        FROM
        (
            SELECT trigger_id, shopper_id, session_id, event_time FROM recovery_triggers FINAL WHERE kind = 'proactive_chat'
        ) AS c
        LEFT JOIN
        (
            SELECT trigger_id, max(type = 'chat_accepted') AS accepted FROM outcome_events FINAL WHERE type = 'chat_accepted' GROUP BY trigger_id
        ) AS o ON o.trigger_id = c.trigger_id
        LEFT JOIN
        (
            SELECT shopper_id, session_id, started_at, ended_at, ordered_at FROM session_outcomes FINAL
        ) AS s ON s.shopper_id = c.shopper_id AND s.session_id = c.session_id
                  AND c.event_time >= s.started_at AND c.event_time <= s.ended_at
        """);

    public static readonly AnalystQuery FirstContactResolution = new(
        "first-contact-resolution",
        "Of the proactive chats resolved, what share was resolved on first contact, and what was the average satisfaction (of those that gave one)?",
        """
        SELECT
            count() AS chats_resolved,
            countIf(resolved_first_contact) AS resolved_first_contact,
            round(if(chats_resolved = 0, 0, resolved_first_contact / chats_resolved), 4) AS first_contact_resolution_rate,
            countIf(satisfaction IS NOT NULL) AS rated,
            round(avgIf(satisfaction, satisfaction IS NOT NULL), 2) AS average_satisfaction
        FROM outcome_events FINAL
        WHERE type = 'chat_resolved'
        """);

    public static readonly AnalystQuery SurveyReasonsByOrigin = new(
        "survey-reasons-by-origin",
        "Why did shoppers abandon, by the channel of origin of the abandoned session (survey answers, share of each channel's answers)?",
        """
        SELECT
            origin_channel,
            reason,
            count() AS answers,
            round(answers / sum(count()) OVER (PARTITION BY origin_channel), 4) AS share_of_origin
        FROM
        (
            SELECT
                o.survey_reason AS reason,
                multiIf(t.origin_channel != '', t.origin_channel, s.origin_channel != '', s.origin_channel, 'unknown') AS origin_channel
            FROM (SELECT shopper_id, session_id, trigger_id, survey_reason FROM outcome_events FINAL WHERE type = 'survey_answered') AS o
            LEFT JOIN (SELECT trigger_id, any(origin_channel) AS origin_channel FROM recovery_triggers FINAL GROUP BY trigger_id) AS t
                ON t.trigger_id = o.trigger_id
            LEFT JOIN (SELECT shopper_id, session_id, argMax(origin_channel, ended_at) AS origin_channel FROM session_outcomes FINAL GROUP BY shopper_id, session_id) AS s
                ON s.shopper_id = o.shopper_id AND s.session_id = o.session_id
        )
        GROUP BY origin_channel, reason
        ORDER BY origin_channel, reason
        """);

    public static readonly AnalystQuery VariantComparison = new(
        "variant-comparison",
        "How do the policy's A/B variants compare: abandoned carts, recovery rate, conversion against each variant's holdout (lift with 95% confidence interval)?",
        """
        SELECT
            variant,
            countIf(NOT holdout) AS treated_carts,
            countIf(NOT holdout AND recovered = 1) AS recovered_carts,
            round(recovered_carts / treated_carts, 4) AS recovery_rate,
            countIf(NOT holdout AND converted = 1) AS treated_converted,
            treated_converted / treated_carts AS treated_rate,
            countIf(holdout) AS holdout_carts,
            countIf(holdout AND converted = 1) AS holdout_converted,
            if(holdout_carts = 0, 0, holdout_converted / holdout_carts) AS holdout_rate,
            treated_rate - holdout_rate AS lift
        FROM recovery_outcomes
        GROUP BY variant
        ORDER BY variant
        """);

    public static IReadOnlyList<AnalystQuery> All { get; } =
        [RecoveryRate, AverageOrderValue, MessageEngagement, ChatAbandonmentReduction, ChatConversion, FirstContactResolution, SurveyReasonsByOrigin, VariantComparison];
}
