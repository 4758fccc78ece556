-- The one DDL source of the analytics store: run by the embedded chDB engine and by a ClickHouse server, in
-- the store's database (default `default`; a replay names its own, e.g. `replay_x`, and never touches `default`).
--
-- Template parameters, substituted by AnalyticsSchema.Render from SchemaOptions (docs/analytics.md):
--   {trigger_retention_days}     recovery_triggers                   (default 400)
--   {outcome_retention_days}     session_outcomes                    (default 400)
--   {audit_retention_days}       audit_log                           (default 400, per the audit policy)
--   {dead_letter_retention_days} dead_letters                        (default 30)
--   {outcome_event_retention_days} outcome_events                    (default 400)
--   {profile_retention_days}     shopper_profiles                    (default 400)
--   {attribution_window_seconds} recovery_outcomes attribution window (default 5 days = 432000)
-- Retention counts from when the row was written (written_at, a MATERIALIZED column: filled by the engine at insert,
-- absent from SELECT *, so outputs stay the same for the same input), never from a date in the data: a backfill of 2019
-- traffic, a dead letter of a month-old event or an event stamped 1970 is kept as long as a row of today.
-- A retention of "keep forever" drops the TTL line (a replay's own database keeps every row).
-- Consent evidence (audit_log rows with decision = 'consent_changed') is exempt from the audit retention: it is kept
-- while the consent is in force and for the evidence period after (SchemaRetention.PruneConsentEvidenceAsync).
-- CREATE ... IF NOT EXISTS does not change an existing table's TTL: the command that owns the store (the worker for the
-- live store, a replay or backtest for its own database) applies the configured retention to existing tables too
-- (SchemaRetention.ApplyAsync: ALTER TABLE ... MODIFY TTL / REMOVE TTL); commands that only read, report or erase never
-- change a retention.
-- Idempotence: every table is a ReplacingMergeTree whose sorting key ends with the row's deterministic id, so a
-- batch written twice (a crash replays the tail since the last commit) collapses to one row; queries use FINAL.
-- Sorting keys start with the day and the columns analysts filter and group by; partitions are months, so TTL
-- drops whole old parts cheaply. A bloom filter on shopper_id serves attribution joins and erasure deletes.

CREATE TABLE IF NOT EXISTS recovery_triggers
(
    trigger_id          String,
    kind                LowCardinality(String),
    shopper_id          String,
    session_id          String,
    step                UInt8,
    channel             LowCardinality(String),
    score               Float64,
    top_factors         Array(String),
    reason              LowCardinality(String),
    cart_lines          Array(Tuple(sku String, name String, unit_price Decimal(18, 2), quantity UInt32)),
    cart_value          Decimal(18, 2),
    currency            LowCardinality(String),
    incentive_code      String,
    incentive_type      LowCardinality(String),
    incentive_value     Decimal(18, 2),
    incentive_expires_at Nullable(DateTime64(3, 'UTC')),
    consent_event_id    String,
    policy_version      LowCardinality(String),
    variant             LowCardinality(String),
    segment             LowCardinality(String),
    origin_channel      LowCardinality(String),
    funnel_step         LowCardinality(String),
    payment_error_codes Array(String),
    event_time          DateTime64(3, 'UTC'),
    due_time            DateTime64(3, 'UTC'),
    purpose             LowCardinality(String),
    consent_wording_version LowCardinality(String),
    unsubscribe_token   String,
    unsubscribe_url     String,
    resume_token        String,
    resume_url          String,
    message_subject     String,
    message_body        String,
    shopper_time_zone   LowCardinality(String),
    shopper_local_time  Nullable(DateTime64(3, 'UTC')),
    category            LowCardinality(String),
    INDEX shopper_lookup shopper_id TYPE bloom_filter GRANULARITY 4,
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), kind, channel, step, trigger_id)
TTL written_at + INTERVAL {trigger_retention_days} DAY;

CREATE TABLE IF NOT EXISTS audit_log
(
    audit_id       String,
    shopper_id     String,
    session_id     String,
    decision       LowCardinality(String),
    reason         LowCardinality(String),
    step           UInt8,
    channel        LowCardinality(String),
    evidence       Array(String),
    score          Float64,
    top_factors    Array(String),
    policy_version LowCardinality(String),
    detail         String,
    event_time     DateTime64(3, 'UTC'),
    shopper_pseudonym String,
    chain_seq      UInt64,
    chain_prev     String,
    chain_hash     String,
    kind           LowCardinality(String),
    session_pseudonym String,
    chain_version  UInt8 DEFAULT 1,
    INDEX shopper_lookup shopper_id TYPE bloom_filter GRANULARITY 4,
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), decision, reason, audit_id)
TTL written_at + INTERVAL {audit_retention_days} DAY DELETE WHERE decision != 'consent_changed';

-- One row per session: a session is (shopper_id, session_id, started_at). Storefronts reuse session ids across
-- shoppers (and a shopper's session id may come back days later as a new session), so the shopper and the start are
-- part of the key: two shoppers' rows never collapse into one. A late order re-emits the row with a later ended_at,
-- which wins (the version column); started_at and origin_channel never change for a session, so the re-emitted row
-- has the same sorting key.
CREATE TABLE IF NOT EXISTS session_outcomes
(
    session_id     String,
    shopper_id     String,
    origin_channel LowCardinality(String),
    segment        LowCardinality(String),
    furthest_step  LowCardinality(String),
    cart_value     Decimal(18, 2),
    currency       LowCardinality(String),
    item_count     UInt32,
    outcome        LowCardinality(String),
    abandoned_at   Nullable(DateTime64(3, 'UTC')),
    ordered_at     Nullable(DateTime64(3, 'UTC')),
    order_value    Decimal(18, 2),
    order_currency LowCardinality(String),
    holdout        Bool,
    policy_version LowCardinality(String),
    variant        LowCardinality(String),
    started_at     DateTime64(3, 'UTC'),
    ended_at       DateTime64(3, 'UTC'),
    INDEX shopper_lookup shopper_id TYPE bloom_filter GRANULARITY 4,
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree(ended_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDate(started_at), origin_channel, shopper_id, session_id, started_at)
TTL written_at + INTERVAL {outcome_retention_days} DAY;

-- Rejected input: where it was and why. No payload (it may hold personal data): that stays on the
-- dead-letter topic with the input's retention.
CREATE TABLE IF NOT EXISTS dead_letters
(
    dead_letter_id String,
    topic          LowCardinality(String),
    partition      Int32,
    offset         Int64,
    reason         LowCardinality(String),
    detail         String,
    payload_sha256 String,
    received_at    DateTime64(3, 'UTC'),
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset, dead_letter_id)
TTL written_at + INTERVAL {dead_letter_retention_days} DAY;

-- Outcomes of triggers reported back on outcome-events (docs/events.md, "Outcomes"): delivery, opens, clicks,
-- bounces and complaints from dispatchers; chat accepted/resolved; survey answers. One row per outcome event
-- (event_id is the producer's id: a re-delivery collapses). matched = the worker's state knew the trigger (or, for a
-- survey linked by session, the session); an unmatched outcome is kept, not dead-lettered. Step, channel of origin
-- and variant come from recovery_triggers by trigger_id. free_text is personal data: it lives only here and is
-- erased with the shopper's rows.
CREATE TABLE IF NOT EXISTS outcome_events
(
    event_id               String,
    type                   LowCardinality(String),
    shopper_id             String,
    session_id             String,
    trigger_id             String,
    channel                LowCardinality(String),
    matched                Bool,
    bounce_type            LowCardinality(String),
    resolved_first_contact Nullable(Bool),
    satisfaction           Nullable(UInt8),
    survey_reason          LowCardinality(String),
    free_text              Nullable(String),
    event_time             DateTime64(3, 'UTC'),
    INDEX shopper_lookup shopper_id TYPE bloom_filter GRANULARITY 4,
    INDEX trigger_lookup trigger_id TYPE bloom_filter GRANULARITY 4,
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), type, event_id)
TTL written_at + INTERVAL {outcome_event_retention_days} DAY;

-- Customer profiles (docs/analytics.md, "Customer profiles"): one row per shopper, re-written when the profile changes
-- (an order, a finished session); the newest updated_at wins. RFM, churn risk, lifetime-value estimate, segment and
-- category interest; codes and numbers only.
CREATE TABLE IF NOT EXISTS shopper_profiles
(
    shopper_id            String,
    segment               LowCardinality(String),
    churn_risk            Float64,
    order_count           UInt32,
    recency_days          Nullable(Float64),
    monetary              Decimal(18, 2),
    monetary_currency     LowCardinality(String),
    lifetime_value        Decimal(18, 2),
    typical_interval_days Float64,
    top_categories        Array(String),
    category_interest     Map(String, UInt32),
    first_seen            DateTime64(3, 'UTC'),
    last_order_at         Nullable(DateTime64(3, 'UTC')),
    updated_at            DateTime64(3, 'UTC'),
    written_at     DateTime MATERIALIZED now()
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY shopper_id
TTL written_at + INTERVAL {profile_retention_days} DAY;

-- Stores created before order_currency existed get it (CREATE TABLE IF NOT EXISTS leaves an existing table as it
-- is). A sorting key cannot be changed in place: a store created before shopper_id and started_at joined
-- session_outcomes' key keeps collapsing colliding sessions until its table is recreated (docs/analytics.md).
ALTER TABLE session_outcomes ADD COLUMN IF NOT EXISTS order_currency LowCardinality(String) AFTER order_value;
-- Stores created before incentives had a type, value and expiry get those columns too.
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS incentive_type LowCardinality(String) AFTER incentive_code;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS incentive_value Decimal(18, 2) AFTER incentive_type;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS incentive_expires_at Nullable(DateTime64(3, 'UTC')) AFTER incentive_value;
-- Stores created before messages carried their obligations, and before the audit chain (docs/compliance.md).
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS purpose LowCardinality(String);
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS consent_wording_version LowCardinality(String);
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS unsubscribe_token String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS unsubscribe_url String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS resume_token String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS resume_url String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS message_subject String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS message_body String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS shopper_time_zone LowCardinality(String);
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS shopper_local_time Nullable(DateTime64(3, 'UTC'));
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS shopper_pseudonym String;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_seq UInt64;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_prev String;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_hash String;
-- Stores created before browse-abandonment and win-back triggers (kind of an audit row, category of a trigger).
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS category LowCardinality(String);
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS kind LowCardinality(String);
-- Stores created before the chain covered the session and the factors (version 2): their rows keep version 1.
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS session_pseudonym String;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain_version UInt8 DEFAULT 1;

-- The anchored head of every audit chain (docs/compliance.md, "Tamper-evident audit log"): the newest row of each chain,
-- MAC'd with the record key, written after the audit rows it anchors. One row per chain (a shopper's pseudonym and the
-- hash of the chain's first row): the newest head replaces the older ones (version chain_seq). No TTL: one small row
-- per chain, and a head must outlive any row an editor could delete.
CREATE TABLE IF NOT EXISTS audit_chain_heads
(
    shopper_pseudonym String,
    chain_root     String,
    chain_seq      UInt64,
    chain_hash     String,
    head_mac       String
)
ENGINE = ReplacingMergeTree(chain_seq)
ORDER BY (shopper_pseudonym, chain_root);

-- Stores created before retention counted from the write (written_at); existing rows read it as the time of the read,
-- so their retention starts now rather than from the data's own dates.
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();
ALTER TABLE session_outcomes ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();
ALTER TABLE outcome_events ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();
ALTER TABLE shopper_profiles ADD COLUMN IF NOT EXISTS written_at DateTime MATERIALIZED now();

-- Lines of the cart a trigger does not list (OutputLimits: at most 100 are listed, fewer when they would not fit one record).
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS cart_lines_omitted UInt32 AFTER cart_lines;

-- RFC 8058 one-click unsubscribe headers of an email trigger (List-Unsubscribe, List-Unsubscribe-Post), for the dispatcher.
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS list_unsubscribe String;
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS list_unsubscribe_post LowCardinality(String);
-- A reminder's score is the one that decided it (taken when the cart was left); its score at send time, which decides
-- nothing, is kept beside it for comparison (0 for the other kinds and for rows written before).
ALTER TABLE recovery_triggers ADD COLUMN IF NOT EXISTS send_time_score Float64 AFTER top_factors;

-- Attributed recoveries and the holdout comparison: one row per abandoned cart (reminded or holdout), derived
-- from session_outcomes and recovery_triggers, so there is one source of truth, re-deliveries cannot count
-- twice, and the worker writes nothing more. A VIEW: it is computed at query time (FINAL underneath), and replaced
-- at every start, so a store always has the current definition.
-- This is the one definition of the recovery metrics (docs/analytics.md); the run summary, the report and the
-- backtest all read them from here.
--   cart:      a session with an abandonment, identified like its session_outcomes row by (shopper_id, session_id,
--              started_at): session ids collide across shoppers and come back days later as new sessions.
--   converted: the shopper ordered (in any of their sessions) within the attribution window after the cart
--              was abandoned (its latest abandonment). Each order credits one cart: the shopper's latest abandoned
--              cart before it (the order's own session first), and a cart keeps its first credited order. The
--              window counts from abandonment for reminded and holdout carts alike, so the two groups are
--              comparable (lift).
--   reminders_sent: every reminder of the cart's session, from its start to its end (a session abandoned,
--              resumed and abandoned again is one cart: the reminders of every cycle count).
--   recovered: converted and a reminder of this cart was sent before the order (last-touch attribution);
--              revenue (in revenue_currency, the credited order's currency), last_touch_step/channel/at and
--              seconds_after_last_touch describe that recovery. An order before any reminder is not a recovery.
CREATE OR REPLACE VIEW recovery_outcomes AS
WITH
    carts AS
    (
        SELECT s.session_id AS session_id, s.shopper_id AS shopper_id, s.started_at AS started_at, s.ended_at AS ended_at,
               s.origin_channel AS origin_channel, s.segment AS segment, s.furthest_step AS furthest_step, s.cart_value AS cart_value,
               s.currency AS currency, s.holdout AS holdout, s.policy_version AS policy_version, s.variant AS variant,
               assumeNotNull(s.abandoned_at) AS cart_abandoned_at
        FROM session_outcomes AS s FINAL
        WHERE s.abandoned_at IS NOT NULL
    ),
    orders AS
    (
        SELECT s.session_id AS order_session_id, s.started_at AS order_started_at, s.shopper_id AS shopper_id,
               assumeNotNull(s.ordered_at) AS order_time, s.order_value AS order_value,
               if(s.order_currency != '', s.order_currency, s.currency) AS order_currency
        FROM session_outcomes AS s FINAL
        WHERE s.ordered_at IS NOT NULL
    ),
    credited_orders AS
    (
        SELECT orders.shopper_id AS shopper_id,
               argMax((carts.session_id, carts.started_at),
                      (carts.session_id = orders.order_session_id AND carts.started_at = orders.order_started_at, carts.cart_abandoned_at)) AS cart_key,
               orders.order_session_id AS order_session_id, orders.order_time AS ordered_at, orders.order_value AS order_value,
               orders.order_currency AS order_currency
        FROM orders
        INNER JOIN carts ON carts.shopper_id = orders.shopper_id
        WHERE carts.cart_abandoned_at <= orders.order_time
          AND orders.order_time <= carts.cart_abandoned_at + toIntervalSecond({attribution_window_seconds})
        GROUP BY orders.shopper_id, orders.order_session_id, orders.order_started_at, orders.order_time, orders.order_value, orders.order_currency
    ),
    first_credited AS
    (
        SELECT shopper_id, cart_key.1 AS cart_session_id, cart_key.2 AS cart_started_at, min(ordered_at) AS first_ordered_at,
               argMin(order_session_id, ordered_at) AS first_order_session_id, argMin(order_value, ordered_at) AS first_order_value,
               argMin(order_currency, ordered_at) AS first_order_currency
        FROM credited_orders
        GROUP BY shopper_id, cart_key
    ),
    reminders AS
    (
        SELECT shopper_id, session_id, step, channel, event_time
        FROM recovery_triggers FINAL
        WHERE kind = 'reminder'
    ),
    joined AS
    (
        SELECT carts.*, first_credited.cart_session_id != '' AS converted_flag, first_credited.first_ordered_at AS first_ordered_at,
               first_credited.first_order_session_id AS first_order_session_id, first_credited.first_order_value AS first_order_value,
               first_credited.first_order_currency AS first_order_currency
        FROM carts
        LEFT JOIN first_credited ON first_credited.shopper_id = carts.shopper_id AND first_credited.cart_session_id = carts.session_id
                                AND first_credited.cart_started_at = carts.started_at
    ),
    touches AS
    (
        SELECT joined.shopper_id AS shopper_id, joined.session_id AS session_id, joined.started_at AS started_at,
               count() AS reminders_sent,
               countIf(joined.converted_flag AND reminders.event_time <= joined.first_ordered_at) AS touches_before_order,
               argMaxIf((reminders.step, reminders.channel, reminders.event_time), reminders.event_time,
                        joined.converted_flag AND reminders.event_time <= joined.first_ordered_at) AS last_touch
        FROM joined
        INNER JOIN reminders ON reminders.shopper_id = joined.shopper_id AND reminders.session_id = joined.session_id
        WHERE reminders.event_time >= joined.started_at AND reminders.event_time <= joined.ended_at
        GROUP BY joined.shopper_id, joined.session_id, joined.started_at
    )
SELECT
    joined.session_id AS session_id,
    joined.shopper_id AS shopper_id,
    joined.started_at AS started_at,
    joined.origin_channel AS origin_channel,
    joined.segment AS segment,
    joined.furthest_step AS furthest_step,
    joined.cart_value AS cart_value,
    joined.currency AS currency,
    joined.holdout AS holdout,
    joined.policy_version AS policy_version,
    joined.variant AS variant,
    joined.cart_abandoned_at AS abandoned_at,
    toUInt32(touches.reminders_sent) AS reminders_sent,
    toUInt8(joined.converted_flag) AS converted,
    if(joined.converted_flag, joined.first_order_session_id, '') AS order_session_id,
    if(joined.converted_flag, toNullable(joined.first_ordered_at), NULL) AS ordered_at,
    if(joined.converted_flag, joined.first_order_value, toDecimal64(0, 2)) AS order_value,
    if(joined.converted_flag, joined.first_order_currency, '') AS order_currency,
    if(joined.converted_flag, toNullable(toInt64(dateDiff('second', joined.cart_abandoned_at, joined.first_ordered_at))), NULL) AS seconds_to_order,
    toUInt8(touches.touches_before_order > 0) AS recovered,
    if(recovered = 1, order_value, toDecimal64(0, 2)) AS revenue,
    if(recovered = 1, order_currency, '') AS revenue_currency,
    if(recovered = 1, touches.last_touch.1, 0) AS last_touch_step,
    if(recovered = 1, touches.last_touch.2, '') AS last_touch_channel,
    if(recovered = 1, toNullable(touches.last_touch.3), NULL) AS last_touch_at,
    if(recovered = 1, toNullable(toInt64(dateDiff('second', touches.last_touch.3, joined.first_ordered_at))), NULL) AS seconds_after_last_touch
FROM joined
LEFT JOIN touches ON touches.shopper_id = joined.shopper_id AND touches.session_id = joined.session_id AND touches.started_at = joined.started_at;

-- The consent ledger (docs/compliance.md): every consent change as the audit log recorded it (the audit row is the
-- record of evidence, tamper-evident, and erasure keeps it under the pseudonym). One row per consent event: purpose,
-- channel, kind (granted, withdrawn, unsubscribed), source, wording version, when it was given and until when a grant
-- holds (valid_until, NULL: until withdrawn). superseded: the event arrived after a newer one for the same purpose and
-- channel, so it never was in force. A VIEW, replaced at every start like recovery_outcomes.
CREATE OR REPLACE VIEW consent_ledger AS
SELECT
    shopper_id,
    shopper_pseudonym,
    evidence[1] AS consent_event_id,
    extract(detail, 'purpose=([^ ]*)') AS purpose,
    CAST(channel AS String) AS channel,
    replaceOne(CAST(reason AS String), '_superseded', '') AS kind,
    kind = 'granted' AS granted,
    endsWith(CAST(reason AS String), '_superseded') AS superseded,
    extract(detail, 'source=([^ ]*)') AS source,
    extract(detail, 'wording=([^ ]*)') AS wording_version,
    event_time AS given_at,
    parseDateTime64BestEffortOrNull(extract(detail, 'valid_until=([^ ]+)'), 3, 'UTC') AS valid_until
FROM audit_log FINAL
WHERE decision = 'consent_changed';
