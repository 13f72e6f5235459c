-- Versioned per-query cost estimates, written by the analysis job (analysis/estimates-writer.ts).
--
-- One run writes one version: first every row of `estimates` for that version, then ONE row of
-- `estimate_versions`. A version is current only once its `estimate_versions` row exists, and the
-- current version is the largest one there, so a run that fails half-way leaves rows nobody reads
-- and the previous version stays in force. Versions are epoch milliseconds of the run (made strictly
-- larger than every version already used, see analysis/version.ts), so they sort by time.
--
-- Per-resource columns (not one row per resource): the scheduler always loads the three together.
-- `sd` is the posterior standard deviation; `lower`/`upper` the 95 % interval (clipped at 0).
-- `observations` = executions of the query in the windows the regression used; `prior` = 1 when
-- the query has no such execution and the estimate is the prior alone.
-- History is kept (estimate history is an investigation query); rows are small (≈ 150 B).
CREATE TABLE IF NOT EXISTS {{database}}.estimates
(
    version      UInt64,
    computed_at  DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    query_id     UUID,
    cpu          Float64,
    io           Float64,
    memory       Float64,
    cpu_sd       Float64,
    io_sd        Float64,
    memory_sd    Float64,
    cpu_lower    Float64,
    cpu_upper    Float64,
    io_lower     Float64,
    io_upper     Float64,
    memory_lower Float64,
    memory_upper Float64,
    observations UInt64,
    windows      UInt64,
    prior        UInt8,
    method       LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (version, query_id)
;
-- One row per committed version, written last. Also holds what a reader needs besides the rows:
-- the prior (for queries the estimator has never seen) and the run's diagnostics.
CREATE TABLE IF NOT EXISTS {{database}}.estimate_versions
(
    version              UInt64,
    computed_at          DateTime64(3, 'UTC'),
    method               LowCardinality(String),
    queries              UInt32,
    windows              UInt64,
    executions           UInt64,
    -- Windows whose reported min/max contradict their executions (missing rows); 0 when consistent.
    inconsistent_windows UInt64,
    -- Noise sd per window total (from the residuals, at least the truncation's).
    noise_cpu            Float64,
    noise_io             Float64,
    noise_memory         Float64,
    prior_cpu            Float64,
    prior_io             Float64,
    prior_memory         Float64,
    prior_sd_cpu         Float64,
    prior_sd_io          Float64,
    prior_sd_memory      Float64,
    blocks_reused        UInt32,
    blocks_computed      UInt32,
    duration_ms          UInt32
)
ENGINE = ReplacingMergeTree
ORDER BY version
;
-- The estimates in force, for people and reports: `SELECT * FROM spike.estimates_latest`.
CREATE VIEW IF NOT EXISTS {{database}}.estimates_latest AS
SELECT * FROM {{database}}.estimates FINAL
WHERE version = (SELECT max(version) FROM {{database}}.estimate_versions)
