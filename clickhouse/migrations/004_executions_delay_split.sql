-- Who moved an execution, and by how much: `added_delay` split per mover (the `by` of the
-- `/delay` requests; '' for requests that named nobody). The values add up to `added_delay`, so an
-- execution the scheduler moved 3 ticks and a person 1 200 reads {'scheduler': 3, 'alice': 1200},
-- while `delayed_by` keeps naming the last mover only. Executions nobody moved have an empty map.
--
-- Rows stored before this column existed did not record the split: for them (and for records
-- from an older capture that lack it) the default credits the whole added delay to the last mover,
-- which is what `delayed_by` said at the time.
ALTER TABLE {{database}}.executions
    ADD COLUMN IF NOT EXISTS added_delay_by Map(LowCardinality(String), Int32)
    DEFAULT if(delay_count = 0, map(), map(ifNull(delayed_by, ''), added_delay))
    AFTER delayed_by
;
-- The view's `*` was expanded when it was created: recreate it so it shows the new column.
CREATE OR REPLACE VIEW {{database}}.executions_dedup AS
SELECT * FROM {{database}}.executions FINAL
