using System.Globalization;
using System.Text;
using CartRecovery.Domain.Policy;
using CartRecovery.Storage;

namespace CartRecovery.Analytics;

/// <summary>
/// The compliance metrics (docs/compliance.md quotes each definition): audit completeness over every decision kind,
/// incidents computed independently of the engine's own decisions, opt-in and unsubscribe rates, all by channel of
/// origin; and the consent in force for a shopper at an instant. Queries that check the policy's rules (quiet hours,
/// caps, steps per segment) take them from a reference policy as a <c>rules</c> table, so a run under a different
/// (or broken) policy is judged against the rules it should have kept.
/// </summary>
public static class ComplianceQueries
{
    /// <summary>The reference rules per segment as a ClickHouse table expression.</summary>
    public static string Rules(RecoveryPolicy policy)
    {
        var rows = string.Join(", ", policy.Segments.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"('{s.Name.Replace("'", "''")}', {Minute(s.QuietHours.Start)}, {Minute(s.QuietHours.End)}, {s.Caps.PerCart}, {s.Caps.PerShopper}, " +
            $"{(long)s.Caps.PerShopperWindow.TotalSeconds}, {s.Steps.Length})")));
        return "SELECT * FROM values('segment String, quiet_start UInt16, quiet_end UInt16, per_cart UInt32, per_shopper UInt32, " +
            $"shopper_window UInt32, steps UInt32', {rows})";
    }

    private static int Minute(TimeOnly time) => time.Hour * 60 + time.Minute;

    /// <summary>
    /// Reminders that break a rule, by channel of origin, judged from the outputs, the consent ledger (consent_ledger, from
    /// the audit log) and the order ledger (session_outcomes) alone, never from the engine's suppression rows:
    /// without valid consent (no cart_recovery grant on the reminder's channel at or before it, or the newest one expired),
    /// after an opt-out (an opt-out covering cart recovery, by purpose cart_recovery/marketing/all on the channel or on all,
    /// at or after that grant and at or before the reminder), inside quiet hours (the shopper's local time at sending, in
    /// the segment's window), after a purchase (an order of the shopper after the cart's abandonment and at or before the
    /// reminder), beyond a cap (more reminders for the cart than per_cart, or for the shopper inside the window than
    /// per_shopper). Each reminder counts once per kind; incidents = reminders with at least one.
    /// </summary>
    public static AnalystQuery Incidents(RecoveryPolicy reference) => new(
        "compliance-incidents",
        "Which reminders broke a compliance rule (consent, opt-out, quiet hours, purchase, caps), by channel of origin?",
        $"""
        WITH
            rules AS ({Rules(reference)}),
            reminders AS
            (
                SELECT trigger_id, shopper_id, session_id, channel, origin_channel, segment, event_time, shopper_local_time
                FROM recovery_triggers FINAL
                WHERE kind = 'reminder'
            ),
            grants AS
            (
                SELECT r.trigger_id AS trigger_id, argMax(l.consent_event_id, l.given_at) AS grant_id, max(l.given_at) AS granted_at,
                       argMax(l.valid_until, l.given_at) AS grant_valid_until
                FROM reminders AS r INNER JOIN consent_ledger AS l ON l.shopper_id = r.shopper_id
                WHERE l.granted AND l.purpose = 'cart_recovery' AND l.channel = r.channel AND l.given_at <= r.event_time
                GROUP BY r.trigger_id
            ),
            opt_outs AS
            (
                SELECT r.trigger_id AS trigger_id, max(l.given_at) AS opted_out_at
                FROM reminders AS r INNER JOIN consent_ledger AS l ON l.shopper_id = r.shopper_id
                WHERE NOT l.granted AND l.purpose IN ('cart_recovery', 'marketing', 'all') AND l.channel IN (r.channel, 'all') AND l.given_at <= r.event_time
                GROUP BY r.trigger_id
            ),
            abandonments AS
            (
                SELECT r.trigger_id AS trigger_id, max(a.event_time) AS abandoned_at
                FROM reminders AS r
                INNER JOIN (SELECT shopper_id, session_id, event_time FROM audit_log FINAL WHERE decision = 'abandoned') AS a
                    ON a.shopper_id = r.shopper_id AND a.session_id = r.session_id
                WHERE a.event_time <= r.event_time
                GROUP BY r.trigger_id
            ),
            purchases AS
            (
                SELECT r.trigger_id AS trigger_id, count() AS orders_before
                FROM reminders AS r
                INNER JOIN abandonments AS ab ON ab.trigger_id = r.trigger_id
                INNER JOIN (SELECT shopper_id, assumeNotNull(ordered_at) AS ordered_at FROM session_outcomes FINAL WHERE ordered_at IS NOT NULL) AS o
                    ON o.shopper_id = r.shopper_id
                WHERE o.ordered_at > ab.abandoned_at AND o.ordered_at <= r.event_time
                GROUP BY r.trigger_id
            ),
            per_cart AS
            (
                SELECT trigger_id, row_number() OVER (PARTITION BY shopper_id, session_id ORDER BY event_time, trigger_id) AS nth_for_cart
                FROM reminders
            ),
            per_shopper AS
            (
                SELECT r.trigger_id AS trigger_id, count() AS in_window
                FROM reminders AS r
                INNER JOIN reminders AS p ON p.shopper_id = r.shopper_id
                INNER JOIN rules AS w ON w.segment = r.segment
                WHERE p.event_time > r.event_time - toIntervalSecond(w.shopper_window) AND p.event_time <= r.event_time
                GROUP BY r.trigger_id
            ),
            judged AS
            (
                SELECT
                    r.origin_channel AS origin_channel,
                    g.grant_id = '' OR (g.grant_valid_until IS NOT NULL AND g.grant_valid_until <= r.event_time) AS is_without_valid_consent,
                    g.grant_id != '' AND o.trigger_id != '' AND o.opted_out_at >= g.granted_at AS is_after_opt_out,
                    toHour(assumeNotNull(r.shopper_local_time)) * 60 + toMinute(assumeNotNull(r.shopper_local_time)) AS local_minute,
                    rules.quiet_start != rules.quiet_end AND if(rules.quiet_start < rules.quiet_end,
                        local_minute >= rules.quiet_start AND local_minute < rules.quiet_end,
                        local_minute >= rules.quiet_start OR local_minute < rules.quiet_end) AS is_in_quiet_hours,
                    p.orders_before > 0 AS is_after_purchase,
                    c.nth_for_cart > rules.per_cart OR s.in_window > rules.per_shopper AS is_beyond_cap
                FROM reminders AS r
                LEFT JOIN grants AS g ON g.trigger_id = r.trigger_id
                LEFT JOIN opt_outs AS o ON o.trigger_id = r.trigger_id
                LEFT JOIN purchases AS p ON p.trigger_id = r.trigger_id
                LEFT JOIN per_cart AS c ON c.trigger_id = r.trigger_id
                LEFT JOIN per_shopper AS s ON s.trigger_id = r.trigger_id
                LEFT JOIN rules ON rules.segment = r.segment
            )
        SELECT
            origin_channel,
            count() AS reminders,
            countIf(is_without_valid_consent) AS without_valid_consent,
            countIf(is_after_opt_out) AS after_opt_out,
            countIf(is_in_quiet_hours) AS in_quiet_hours,
            countIf(is_after_purchase) AS after_purchase,
            countIf(is_beyond_cap) AS beyond_cap,
            countIf(is_without_valid_consent OR is_after_opt_out OR is_in_quiet_hours OR is_after_purchase OR is_beyond_cap) AS incidents
        FROM judged
        GROUP BY origin_channel
        ORDER BY origin_channel
        """);

    /// <summary>
    /// Audit completeness per decision kind and channel of origin: of what happened (from the outputs), how much has its
    /// audit row. abandonment: abandoned sessions with an `abandoned` row; reminder and proactive_chat: triggers with
    /// their `triggered` row; step_decision: abandonment cases whose every step of the segment (reference rules) was
    /// decided (triggered or suppressed), or that ended early as resumed or by the shopper's erasure; consent_change: reminders whose consent is in
    /// the consent ledger; erasure: erasures after which no audit row of the pseudonym up to the erasure still names the
    /// shopper id (shopper-level: origin `all`).
    /// </summary>
    public static AnalystQuery Completeness(RecoveryPolicy reference) => new(
        "compliance-audit-completeness",
        "Does every decision have its audit row: abandonments, every step's send or suppression, reminders, chats, consent changes, erasures?",
        $"""
        WITH
            rules AS ({Rules(reference)}),
            origins AS (SELECT shopper_id, session_id, any(origin_channel) AS origin_channel FROM session_outcomes FINAL GROUP BY shopper_id, session_id),
            audits AS (SELECT shopper_id, session_id, decision, reason, step, event_time, detail FROM audit_log FINAL),
            triggered AS (SELECT extract(detail, 'trigger_id=([0-9a-f]+)') AS trigger_id FROM audits WHERE decision = 'triggered'),
            abandonment AS
            (
                SELECT 'abandonment' AS decision_kind, s.origin_channel AS origin_channel, count() AS expected,
                       countIf((s.shopper_id, s.session_id) IN (SELECT shopper_id, session_id FROM audits WHERE decision = 'abandoned')) AS audited
                FROM session_outcomes AS s FINAL
                WHERE s.abandoned_at IS NOT NULL
                GROUP BY origin_channel
            ),
            trigger_kinds AS
            (
                SELECT kind AS decision_kind, origin_channel, count() AS expected, countIf(trigger_id IN (SELECT trigger_id FROM triggered)) AS audited
                FROM recovery_triggers FINAL
                WHERE kind IN ('reminder', 'proactive_chat')
                GROUP BY kind, origin_channel
            ),
            cases AS
            (
                SELECT shopper_id, session_id, event_time AS abandoned_at, extract(detail, 'segment=([^ ]+)') AS segment,
                       leadInFrame(event_time, 1, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'))
                           OVER (PARTITION BY shopper_id, session_id ORDER BY event_time ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_abandoned_at
                FROM audits
                WHERE decision = 'abandoned'
            ),
            case_steps AS
            (
                SELECT c.shopper_id AS shopper_id, c.session_id AS session_id, c.abandoned_at AS abandoned_at, any(c.segment) AS segment,
                       uniqExactIf(a.step, a.decision IN ('triggered', 'suppressed') AND a.step > 0 AND a.session_id = c.session_id
                                   AND a.event_time >= c.abandoned_at AND a.event_time < c.next_abandoned_at) AS decided_steps,
                       countIf((a.reason = 'session_resumed' AND a.session_id = c.session_id AND a.event_time >= c.abandoned_at
                                AND a.event_time < c.next_abandoned_at) OR (a.decision = 'erased' AND a.event_time >= c.abandoned_at)) > 0 AS resumed
                FROM cases AS c
                LEFT JOIN audits AS a ON a.shopper_id = c.shopper_id
                GROUP BY c.shopper_id, c.session_id, c.abandoned_at
            ),
            step_decision AS
            (
                SELECT 'step_decision' AS decision_kind, if(o.origin_channel = '', 'unknown', o.origin_channel) AS origin_channel, count() AS expected,
                       countIf(cs.resumed OR cs.decided_steps >= rules.steps) AS audited
                FROM case_steps AS cs
                LEFT JOIN origins AS o ON o.shopper_id = cs.shopper_id AND o.session_id = cs.session_id
                LEFT JOIN rules ON rules.segment = cs.segment
                GROUP BY origin_channel
            ),
            consent_change AS
            (
                SELECT 'consent_change' AS decision_kind, origin_channel, count() AS expected,
                       countIf(consent_event_id IN (SELECT consent_event_id FROM consent_ledger)) AS audited
                FROM recovery_triggers FINAL
                WHERE kind = 'reminder'
                GROUP BY origin_channel
            ),
            erasure AS
            (
                SELECT 'erasure' AS decision_kind, 'all' AS origin_channel, count() AS expected,
                       countIf(e.shopper_pseudonym NOT IN (
                           SELECT a.shopper_pseudonym FROM audit_log AS a FINAL
                           INNER JOIN (SELECT shopper_pseudonym, max(event_time) AS erased_at FROM audit_log FINAL WHERE decision = 'erased' GROUP BY shopper_pseudonym) AS x
                               ON x.shopper_pseudonym = a.shopper_pseudonym
                           WHERE a.event_time <= x.erased_at AND a.shopper_id != a.shopper_pseudonym)) AS audited
                FROM audit_log AS e FINAL
                WHERE e.decision = 'erased'
            )
        SELECT decision_kind, origin_channel, expected, audited, if(expected = 0, 1, round(audited / expected, 4)) AS completeness
        FROM
        (
            SELECT * FROM abandonment
            UNION ALL SELECT * FROM trigger_kinds
            UNION ALL SELECT * FROM step_decision
            UNION ALL SELECT * FROM consent_change
            UNION ALL SELECT * FROM erasure
        )
        ORDER BY decision_kind, origin_channel
        """);

    /// <summary>
    /// Opt-in and unsubscribe rates by channel of origin. A shopper's channel of origin is that of their first session.
    /// opt-in rate: shoppers with a cart_recovery grant (any channel) / shoppers with a session. unsubscribe rate: reminded
    /// shoppers who opted out of cart recovery (withdrawn or unsubscribed, cart_recovery/marketing/all) after their first
    /// reminder / reminded shoppers.
    /// </summary>
    public static readonly AnalystQuery ConsentRates = new(
        "compliance-consent-rates",
        "How many shoppers opt in to cart recovery, and how many reminded shoppers unsubscribe, by channel of origin?",
        """
        WITH
            shoppers AS (SELECT shopper_id, argMin(origin_channel, started_at) AS origin_channel FROM session_outcomes FINAL GROUP BY shopper_id),
            opted_in AS (SELECT DISTINCT shopper_id FROM consent_ledger WHERE granted AND purpose = 'cart_recovery'),
            reminded AS (SELECT shopper_id, min(event_time) AS first_reminder FROM recovery_triggers FINAL WHERE kind = 'reminder' GROUP BY shopper_id),
            opted_out AS
            (
                SELECT DISTINCT l.shopper_id AS shopper_id
                FROM consent_ledger AS l INNER JOIN reminded AS r ON r.shopper_id = l.shopper_id
                WHERE NOT l.granted AND l.purpose IN ('cart_recovery', 'marketing', 'all') AND l.given_at > r.first_reminder
            )
        SELECT
            s.origin_channel AS origin_channel,
            count() AS shoppers,
            countIf(s.shopper_id IN (SELECT shopper_id FROM opted_in)) AS opted_in,
            round(opted_in / shoppers, 4) AS opt_in_rate,
            countIf(s.shopper_id IN (SELECT shopper_id FROM reminded)) AS reminded,
            countIf(s.shopper_id IN (SELECT shopper_id FROM opted_out)) AS unsubscribed_after_reminder,
            if(reminded = 0, 0, round(unsubscribed_after_reminder / reminded, 4)) AS unsubscribe_rate
        FROM shoppers AS s
        GROUP BY origin_channel
        ORDER BY origin_channel
        """);

    /// <summary>
    /// The consent ledger at an instant: for each purpose and channel of the shopper, the newest consent event given at or
    /// before it (an opt-out wins a tie), whether it is in force then (a grant not expired), and its evidence.
    /// </summary>
    public static string ConsentInForce(string shopperId, DateTimeOffset at)
    {
        var instant = at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
        return $"""
            SELECT purpose, channel, kind,
                   multiIf(NOT granted, 'no (' || kind || ')', valid_until IS NOT NULL AND valid_until <= at, 'no (expired)', 'yes') AS in_force,
                   consent_event_id, given_at, valid_until, source, wording_version
            FROM consent_ledger
            WHERE shopper_id = {AnalyticsErasure.Quote(shopperId)} AND given_at <= (toDateTime64('{instant}', 3, 'UTC') AS at)
            ORDER BY purpose, channel, given_at DESC, granted ASC
            LIMIT 1 BY purpose, channel
            """;
    }

    /// <summary>Whether the consent ledger holds any record of the shopper, at any time.</summary>
    public static async Task<bool> HasConsentRecordAsync(IAnalyticsStore store, string shopperId, CancellationToken ct) =>
        (await store.QueryAsync($"SELECT count() FROM consent_ledger WHERE shopper_id = {AnalyticsErasure.Quote(shopperId)}", "TabSeparated", ct)).Trim() != "0";

    public static IReadOnlyList<AnalystQuery> For(RecoveryPolicy reference) => [Completeness(reference), Incidents(reference), ConsentRates];
}
