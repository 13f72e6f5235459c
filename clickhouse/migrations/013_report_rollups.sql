-- Insert-time rollups of `executions` for the reports (analysis/reports/rollups.ts): a report over
-- hours or days reads these small summaries instead of every execution, so its cost follows what it
-- shows, not the history. Materialized views fill them as rows are inserted; the report reads them
-- only outside its most recent period, which it still reads row by row through `executions_dedup`.
--
-- What they count: physical rows, as inserted. A duplicated delivery (at-least-once ingest) is
-- counted twice here: the report's rolled-up sections (counts, periods, scheduling
-- over long ranges) may over-count by the duplicates, while the detail period, the spike windows
-- and the estimator read the dedup views and never do.
--
-- `execution_buckets`: per 10-tick bucket (one 1-second window at the defaults; any window of a
-- multiple of 10 ticks is a whole number of buckets): executions, those delayed by anybody and by
-- the scheduler, added latency (sum, max, and its histogram for percentiles), and the first tick
-- of a delayed and of a scheduler-moved execution (max Int64: none).
-- `query_buckets`: per 600-tick bucket (a minute at 100 ms ticks) and query: executions, added
-- latency, first and last execution time.
-- Both partitioned by day like `executions`, so retention (retention.ts) drops their days alike.
CREATE TABLE IF NOT EXISTS {{database}}.execution_buckets
(
    day             Date,
    bucket          Int64 CODEC(Delta, ZSTD(1)),
    executions      SimpleAggregateFunction(sum, UInt64),
    delayed         SimpleAggregateFunction(sum, UInt64),
    moved           SimpleAggregateFunction(sum, UInt64),
    added_delay_sum SimpleAggregateFunction(sum, Int64),
    added_delay_max SimpleAggregateFunction(max, Int32),
    added_delays    SimpleAggregateFunction(sumMap, Tuple(Array(Int32), Array(UInt64))),
    first_delayed   SimpleAggregateFunction(min, Int64),
    first_moved     SimpleAggregateFunction(min, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY bucket
SETTINGS ttl_only_drop_parts = 1
;
CREATE TABLE IF NOT EXISTS {{database}}.query_buckets
(
    day             Date,
    bucket          Int64 CODEC(Delta, ZSTD(1)),
    query_id        UUID,
    executions      SimpleAggregateFunction(sum, UInt64),
    added_delay_sum SimpleAggregateFunction(sum, Int64),
    first_at        SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_at         SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (bucket, query_id)
SETTINGS ttl_only_drop_parts = 1
;
-- The moment the views below start counting, to the millisecond (system.tables keeps a table's
-- creation time in whole seconds only, which lost the rows stored earlier in the same second): the
-- backfill at the end takes the rows inserted before it. On a rerun after a failure the first mark
-- stays the one read (min).
CREATE TABLE IF NOT EXISTS {{database}}.rollup_marks
(
    name String,
    at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY name
;
INSERT INTO {{database}}.rollup_marks SELECT 'views_created', now64(3)
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.execution_buckets_mv TO {{database}}.execution_buckets AS
SELECT toDate(executed_at) AS day, intDiv(executed_tick, 10) AS bucket, count() AS executions,
  countIf(delay_count > 0) AS delayed, countIf(delayed_by = 'scheduler') AS moved,
  sum(toInt64(added_delay)) AS added_delay_sum, max(added_delay) AS added_delay_max,
  sumMap(([added_delay], [toUInt64(1)])) AS added_delays,
  min(if(delay_count > 0, executed_tick, 9223372036854775807)) AS first_delayed,
  min(if(delayed_by = 'scheduler', executed_tick, 9223372036854775807)) AS first_moved
FROM {{database}}.executions
GROUP BY day, bucket
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.query_buckets_mv TO {{database}}.query_buckets AS
SELECT toDate(executed_at) AS day, intDiv(executed_tick, 600) AS bucket, query_id, count() AS executions,
  sum(toInt64(added_delay)) AS added_delay_sum, min(executed_at) AS first_at, max(executed_at) AS last_at
FROM {{database}}.executions
GROUP BY day, bucket, query_id
;
-- The rows stored before the views existed. The views count every row inserted after they were
-- created; rows inserted before are those with an `inserted_at` (the server's clock at insert)
-- before the mark. Only an insert running during the milliseconds between the mark and the views'
-- creation is missed (migrations run before a component inserts, so only another component's
-- ingest running across an upgrade can meet it).
INSERT INTO {{database}}.execution_buckets
SELECT toDate(executed_at) AS day, intDiv(executed_tick, 10) AS bucket, count() AS executions,
  countIf(delay_count > 0) AS delayed, countIf(delayed_by = 'scheduler') AS moved,
  sum(toInt64(added_delay)) AS added_delay_sum, max(added_delay) AS added_delay_max,
  sumMap(([added_delay], [toUInt64(1)])) AS added_delays,
  min(if(delay_count > 0, executed_tick, 9223372036854775807)) AS first_delayed,
  min(if(delayed_by = 'scheduler', executed_tick, 9223372036854775807)) AS first_moved
FROM {{database}}.executions
WHERE inserted_at < (SELECT min(at) FROM {{database}}.rollup_marks WHERE name = 'views_created')
GROUP BY day, bucket
;
INSERT INTO {{database}}.query_buckets
SELECT toDate(executed_at) AS day, intDiv(executed_tick, 600) AS bucket, query_id, count() AS executions,
  sum(toInt64(added_delay)) AS added_delay_sum, min(executed_at) AS first_at, max(executed_at) AS last_at
FROM {{database}}.executions
WHERE inserted_at < (SELECT min(at) FROM {{database}}.rollup_marks WHERE name = 'views_created')
GROUP BY day, bucket, query_id
