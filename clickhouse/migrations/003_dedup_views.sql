-- What every query the product runs reads: each execution and each window exactly once, whether or
-- not the parts holding duplicates have merged yet. FINAL merges rows with the same sorting key at
-- read time; a WHERE on executed_tick / window_id (the leading key columns) is pushed below FINAL,
-- so a tick-range query reads only the granules of that range.
CREATE VIEW IF NOT EXISTS {{database}}.executions_dedup AS
SELECT * FROM {{database}}.executions FINAL
;
CREATE VIEW IF NOT EXISTS {{database}}.windows_dedup AS
SELECT * FROM {{database}}.windows FINAL
;
