-- One row per execution the database performed, written by the ingest workers.
--
-- Duplicates: delivery is at least once, so the same execution can be inserted more than once.
-- ReplacingMergeTree collapses rows with the same sorting key when parts merge; the sorting key
-- (executed_tick, execution_id) identifies an execution uniquely (a duplicate is the same record,
-- so it has the same executed_tick and lands in the same daily partition). Merges happen when they
-- happen, so every query the product runs reads through `executions_dedup` (FINAL, see 003).
--
-- Sorting key: the investigation queries and the product's own queries select a tick or time range
-- first (the spikiest second, per-window counts for the cost regression, completeness over a tick
-- range), so executed_tick leads; per-query questions over a range then group by query_id, and a
-- bloom filter index lets "everything about one query" skip granules.
-- Codecs: ticks and times grow almost monotonically within a part, so Delta + ZSTD stores them in a
-- few bits per row; UUIDs are random and only get ZSTD.
-- Retention: a TTL on executed_at is set from CLICKHOUSE_RETENTION_DAYS at start (retention.ts),
-- not here, so changing the setting changes existing tables. Daily partitions let the TTL drop
-- whole parts (ttl_only_drop_parts).
CREATE DATABASE IF NOT EXISTS {{database}}
;
CREATE TABLE IF NOT EXISTS {{database}}.executions
(
    execution_id  UUID CODEC(ZSTD(1)),
    query_id      UUID CODEC(ZSTD(1)),
    -- Ticks are absolute (wall-clock ticks are ~1.8e13): Int64, exact in JSON (< 2^53).
    queued_tick   Int64 CODEC(Delta, ZSTD(1)),
    executed_tick Int64 CODEC(Delta, ZSTD(1)),
    queued_at     DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    executed_at   DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- executed_tick − (queued_tick + default delay): the latency the scheduler added, in ticks.
    added_delay   Int32 CODEC(ZSTD(1)),
    delay_count   UInt16 CODEC(ZSTD(1)),
    -- Who sent the last accepted /delay (NULL: nobody); a handful of distinct values.
    delayed_by    LowCardinality(Nullable(String)),
    -- When the row became queryable: freshness = inserted_at − executed_at.
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    INDEX idx_query_id query_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(executed_at)
ORDER BY (executed_tick, execution_id)
SETTINGS ttl_only_drop_parts = 1
;
