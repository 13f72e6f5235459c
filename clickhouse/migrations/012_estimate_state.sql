-- What lets a periodic analysis run touch only what arrived since the last one
-- (analysis/estimator/blocks.ts). Replaces the per-run fingerprint scan over every stored block:
-- `estimate_blocks` (011) is no longer written.
--
-- `estimate_state`: one JSON document per run and layout, the commit point of that run's block
-- statistics: which version of each sealed block is current (with the block's tick and time span),
-- which `estimate_totals` version sums them, up to which window id blocks are sealed, the insertion
-- watermark (rows with a later `inserted_at` are looked at by the next run) and the active parts of
-- `executions` and `windows` (a part that disappears without a merge covering it, or is rewritten by
-- a mutation, means rows were dropped: retention, DROP PARTITION, DELETE). The largest version is
-- current; ReplacingMergeTree keeps only it once parts merge.
CREATE TABLE IF NOT EXISTS {{database}}.estimate_state
(
    layout      LowCardinality(String),
    version     UInt64,
    computed_at DateTime64(3, 'UTC'),
    state       String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY layout
;
-- Σ of the statistics of every sealed block at its current version (same columns and kinds as
-- `estimate_stats`): a run reads ≈ q²/2 rows however long the history. A run that recomputes blocks
-- writes a new version = the previous one + the blocks' new statistics − their old ones (exact sums).
CREATE TABLE IF NOT EXISTS {{database}}.estimate_totals
(
    layout    LowCardinality(String),
    version   UInt64,
    kind      UInt8,
    qa        UUID,
    qb        UUID,
    xx        Float64,
    x         Float64,
    windows   Float64,
    xy_cpu    Float64,
    xy_io     Float64,
    xy_memory Float64,
    yy_cpu    Float64,
    yy_io     Float64,
    yy_memory Float64,
    noise_cpu    Float64,
    noise_io     Float64,
    noise_memory Float64,
    inconsistent Float64
)
ENGINE = MergeTree
ORDER BY (layout, version, kind, qa, qb)
;
-- The insertion watermark's index: rows arrive roughly in tick order, so a granule's inserted_at
-- range is narrow and "inserted after T" reads only the granules written since T (and the old
-- granules a late row was merged into).
ALTER TABLE {{database}}.executions ADD INDEX IF NOT EXISTS idx_inserted_at inserted_at TYPE minmax GRANULARITY 1
;
ALTER TABLE {{database}}.executions MATERIALIZE INDEX idx_inserted_at
;
ALTER TABLE {{database}}.windows ADD INDEX IF NOT EXISTS idx_inserted_at inserted_at TYPE minmax GRANULARITY 1
;
ALTER TABLE {{database}}.windows MATERIALIZE INDEX idx_inserted_at
