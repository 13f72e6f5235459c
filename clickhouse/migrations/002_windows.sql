-- One row per 1-second resource window (the database's monitor aggregate over its ticks).
-- window_id = floor(tick / window ticks) identifies a window, so it is the ReplacingMergeTree key:
-- a re-delivered window collapses into one row. Windows are few (one per second), so the table is
-- tiny; daily partitions match executions so that one TTL rule retires both alike.
CREATE TABLE IF NOT EXISTS {{database}}.windows
(
    window_id   Int64 CODEC(Delta, ZSTD(1)),
    first_tick  Int64 CODEC(Delta, ZSTD(1)),
    last_tick   Int64 CODEC(Delta, ZSTD(1)),
    samples     UInt32 CODEC(ZSTD(1)),
    -- Integers (the average is truncated toward zero), per SPEC.md.
    cpu_avg     UInt32 CODEC(ZSTD(1)),
    cpu_min     UInt32 CODEC(ZSTD(1)),
    cpu_max     UInt32 CODEC(ZSTD(1)),
    io_avg      UInt32 CODEC(ZSTD(1)),
    io_min      UInt32 CODEC(ZSTD(1)),
    io_max      UInt32 CODEC(ZSTD(1)),
    memory_avg  UInt32 CODEC(ZSTD(1)),
    memory_min  UInt32 CODEC(ZSTD(1)),
    memory_max  UInt32 CODEC(ZSTD(1)),
    -- When the window was aggregated (the time of last_tick).
    ts          DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY window_id
SETTINGS ttl_only_drop_parts = 1
;
