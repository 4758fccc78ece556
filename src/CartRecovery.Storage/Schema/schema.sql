-- The one DDL source of the analytics store: run by the embedded chDB engine and by a ClickHouse server.
-- Every table is a ReplacingMergeTree whose sorting key ends with the row's deterministic id, so a batch
-- written twice (a crash replays the tail since the last commit) collapses to one row; queries use FINAL.
-- Sorting keys start with the day and the columns analysts group by; partitions are months.
-- Retention by TTL: 400 days for triggers, audit and outcomes, 30 days for dead letters.

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
    consent_event_id    String,
    policy_version      LowCardinality(String),
    variant             LowCardinality(String),
    segment             LowCardinality(String),
    origin_channel      LowCardinality(String),
    funnel_step         LowCardinality(String),
    payment_error_codes Array(String),
    event_time          DateTime64(3, 'UTC'),
    due_time            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), kind, channel, step, trigger_id)
TTL toDateTime(event_time) + INTERVAL 400 DAY;

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
    event_time     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), decision, reason, audit_id)
TTL toDateTime(event_time) + INTERVAL 400 DAY;

-- One row per session; a late order re-emits it with a later ended_at, which wins.
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
    holdout        Bool,
    policy_version LowCardinality(String),
    variant        LowCardinality(String),
    started_at     DateTime64(3, 'UTC'),
    ended_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ended_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDate(started_at), origin_channel, session_id)
TTL toDateTime(ended_at) + INTERVAL 400 DAY;

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
    received_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset, dead_letter_id)
TTL toDateTime(received_at) + INTERVAL 30 DAY;
