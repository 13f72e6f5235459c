-- Incremental sufficient statistics of the cost regression (analysis/estimator/blocks.ts).
--
-- Windows are grouped into blocks of `block_windows` consecutive window ids. For each sealed block
-- (every window of it is old enough to be complete) `estimate_stats` holds its share of XᵀX
-- (kind 1: one row per pair of queries seen together, qa < qb, xx = Σ x_a·x_b; kind 2: per query,
-- xx = Σx², x = Σx, windows, xy = Xᵀy) and of the totals (kind 0, qa = qb = nil UUID: x = Σ
-- executions, windows, xy = Σy, yy = yᵀy, noise, inconsistent windows).
-- Sums over blocks are the statistics of all history; a run recomputes only blocks that changed.
--
-- `estimate_blocks` says which version of a block is current and what it was computed from: the
-- count and an order-free hash (XOR of cityHash64) of the block's windows and of the executions in
-- them, read through the FINAL views. A late row, a late window, a TTL drop, anything that changes
-- a block's inputs changes its fingerprint, and the block is recomputed. Stats rows are written
-- before their block row, under a new version each time, so a failed write leaves the previous
-- version of the block current and its stray rows unread (deleted by the next successful run).
-- `layout` names the block size and the way window totals are reconstructed: changing either
-- starts a new set of blocks.
CREATE TABLE IF NOT EXISTS {{database}}.estimate_blocks
(
    layout          LowCardinality(String),
    block           Int64,
    version         UInt64,
    computed_at     DateTime64(3, 'UTC'),
    windows         UInt64,
    windows_hash    UInt64,
    executions      UInt64,
    executions_hash UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (layout, block)
;
CREATE TABLE IF NOT EXISTS {{database}}.estimate_stats
(
    layout    LowCardinality(String),
    block     Int64,
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
    -- Σ over windows of ((U − L + 1)² − 1): 12 × the variance of a uniform total in [L, U].
    noise_cpu    Float64,
    noise_io     Float64,
    noise_memory Float64,
    inconsistent Float64
)
ENGINE = MergeTree
ORDER BY (layout, block, version, kind, qa, qb)
