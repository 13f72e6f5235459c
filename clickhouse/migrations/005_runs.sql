-- Runs: every start of the database server is a run with an id (`20261203T141502Z-3f9a1c`: its
-- start time, sortable, and a random suffix). The capture layer stamps the id on every execution
-- and window it records, and writes one `runs` row when the run begins and another when it ends.
--
-- Rows stored before runs were recorded have run_id '' (the default), so old data stays readable
-- and is told apart from every real run.
ALTER TABLE {{database}}.executions
    ADD COLUMN IF NOT EXISTS run_id LowCardinality(String) DEFAULT '' AFTER query_id
;
ALTER TABLE {{database}}.windows
    ADD COLUMN IF NOT EXISTS run_id LowCardinality(String) DEFAULT '' AFTER window_id
;
-- The views' `*` was expanded when they were created: recreate them so they show the new column.
CREATE OR REPLACE VIEW {{database}}.executions_dedup AS
SELECT * FROM {{database}}.executions FINAL
;
CREATE OR REPLACE VIEW {{database}}.windows_dedup AS
SELECT * FROM {{database}}.windows FINAL
;
-- One row per run: when it began and ended and with which parameters. The start and the end are
-- two records (the end one repeats the start's fields), so `version` is 0 for the start row and 1
-- for the end row and ReplacingMergeTree(version) keeps the end once both are stored; read through
-- `runs_dedup`. `ended_at` NULL: the run is still going, or it stopped without closing (a crash;
-- its last window's `ts` then says when it stopped).
--
-- Typed columns hold what queries group or join by; `parameters` is every setting of the run as
-- JSON (the simulation's, and the scheduler's when it runs in the same process), for people.
CREATE TABLE IF NOT EXISTS {{database}}.runs
(
    run_id                   String,
    started_at               DateTime64(3, 'UTC'),
    ended_at                 Nullable(DateTime64(3, 'UTC')),
    first_tick               Int64,
    last_tick                Nullable(Int64),
    seed                     String,
    query_count              UInt32,
    probability_scale        Float64,
    tick_ms                  UInt32,
    metrics_window_ticks     UInt32,
    -- 'on' (this process runs it), 'off' (--without-scheduler), 'external' (another process may).
    scheduler                LowCardinality(String),
    -- When the in-process scheduler started deciding (NULL unless scheduler = 'on').
    scheduler_started_at     Nullable(DateTime64(3, 'UTC')),
    parameters               String,
    version                  UInt8,
    inserted_at              DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY run_id
;
CREATE VIEW IF NOT EXISTS {{database}}.runs_dedup AS
SELECT * FROM {{database}}.runs FINAL
