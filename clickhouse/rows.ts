/**
 * The one place where events (camelCase, common/contracts.ts) become table rows (snake_case
 * columns of migrations 001/002/004/005), with the checks that make a row insertable.
 *
 * Why check here rather than let ClickHouse refuse: ClickHouse silently stores some bad values
 * (70000 into a UInt16 wraps to 4464, null into a non-Nullable column becomes 0), which would be
 * wrong data rather than a dead letter. A record that fails these checks can never be stored, so the
 * ingest workers dead-letter it with the message. The checks are hand-written, not a schema
 * library: they run once per execution on the ingest hot path (well under a microsecond).
 */
import type { DelayParts, ExecutedEvent, ResourceStats, RunEvent, WindowEvent } from '../common/contracts.js';
import { InvalidRecordError } from './errors.js';

/** A row of `executions`. Times are epoch ms: DateTime64(3) reads an integer as milliseconds. */
export interface ExecutionRow {
  execution_id: string;
  query_id: string;
  queued_tick: number;
  executed_tick: number;
  queued_at: number;
  executed_at: number;
  added_delay: number;
  delay_count: number;
  delayed_by: string | null;
  /** Absent for records that lack the split: the column's default then credits the last mover (004). */
  added_delay_by?: DelayParts;
  /** Absent for records from before runs were recorded: the column's default '' (005). */
  run_id?: string;
}

/** A row of `windows`. */
export interface WindowRow {
  window_id: number;
  first_tick: number;
  last_tick: number;
  samples: number;
  cpu_avg: number;
  cpu_min: number;
  cpu_max: number;
  io_avg: number;
  io_min: number;
  io_max: number;
  memory_avg: number;
  memory_min: number;
  memory_max: number;
  ts: number;
  run_id?: string;
}

/** A row of `runs` (005): 0 for the start record, 1 for the end one (ReplacingMergeTree version). */
export interface RunRow {
  run_id: string;
  started_at: number;
  ended_at: number | null;
  first_tick: number;
  last_tick: number | null;
  seed: string;
  query_count: number;
  probability_scale: number;
  tick_ms: number;
  metrics_window_ticks: number;
  scheduler: RunEvent['scheduler'];
  scheduler_started_at: number | null;
  parameters: string;
  version: 0 | 1;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
/** DateTime64(3) holds 1900-01-01 … 2299-12-31; the product only ever has times after 1970. */
const MAX_EPOCH_MS = Date.UTC(2299, 11, 31);
const MAX_TEXT = 256;

type Rec = Record<string, unknown>;

function record(value: unknown, what: string): Rec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRecordError(
      what,
      `must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  return value as Rec;
}

function uuid(r: Rec, key: string): string {
  const v = r[key];
  if (typeof v !== 'string' || !UUID.test(v))
    throw new InvalidRecordError(key, `must be a UUID, got ${JSON.stringify(v)}`);
  return v;
}

function int(r: Rec, key: string, min: number, max: number): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidRecordError(key, `must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Run ids as the capture makes them (`20261203T141502Z-3f9a1c`), with room for other tools' ids. */
const RUN_ID = /^[\w.:-]{1,64}$/;

/** The record's run id when it has one (older records do not); '' is refused, it means "no run". */
function runId(r: Rec, required = false): string | undefined {
  const v = r.runId;
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !RUN_ID.test(v)) {
    throw new InvalidRecordError('runId', `must be 1–64 letters, digits, _ . : -, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkType(r: Rec, type: string): void {
  // Payloads from the capture always carry their type; tolerate its absence, refuse a wrong one.
  if (r.type !== undefined && r.type !== type)
    throw new InvalidRecordError('type', `must be "${type}", got ${JSON.stringify(r.type)}`);
}

/** Validates an execution record (from a job, so `unknown`) and maps it to its row. */
export function toExecutionRow(value: unknown): ExecutionRow {
  const r = record(value, 'execution');
  checkType(r, 'executed');
  const delayedBy = r.delayedBy ?? null;
  if (delayedBy !== null && (typeof delayedBy !== 'string' || delayedBy.length > MAX_TEXT)) {
    throw new InvalidRecordError('delayedBy', `must be null or a string of at most ${MAX_TEXT} characters`);
  }
  const row: ExecutionRow = {
    execution_id: uuid(r, 'executionId'),
    query_id: uuid(r, 'queryId'),
    queued_tick: int(r, 'queuedTick', 0, Number.MAX_SAFE_INTEGER),
    executed_tick: int(r, 'executedTick', 0, Number.MAX_SAFE_INTEGER),
    queued_at: int(r, 'queuedAt', 0, MAX_EPOCH_MS),
    executed_at: int(r, 'executedAt', 0, MAX_EPOCH_MS),
    added_delay: int(r, 'addedDelay', -INT32_MAX - 1, INT32_MAX),
    delay_count: int(r, 'delayCount', 0, 65_535),
    delayed_by: delayedBy,
  };
  if (row.executed_tick < row.queued_tick)
    throw new InvalidRecordError('executedTick', 'must not be before queuedTick');
  if (r.addedDelayBy !== undefined) row.added_delay_by = delayParts(r.addedDelayBy, row.delay_count);
  const run = runId(r);
  if (run !== undefined) row.run_id = run;
  return row;
}

/** Ticks per mover: at most one mover per accepted delay, names as long as `delayedBy`, Int32 values. */
function delayParts(value: unknown, delayCount: number): DelayParts {
  const parts = record(value, 'addedDelayBy');
  const movers = Object.keys(parts);
  if (movers.length > delayCount) {
    throw new InvalidRecordError('addedDelayBy', `names ${movers.length} movers for ${delayCount} accepted delays`);
  }
  const out = Object.create(null) as DelayParts;
  for (const mover of movers) {
    if (mover.length > MAX_TEXT) throw new InvalidRecordError('addedDelayBy', `a mover is longer than ${MAX_TEXT}`);
    const ticks = parts[mover];
    if (typeof ticks !== 'number' || !Number.isSafeInteger(ticks) || Math.abs(ticks) > INT32_MAX) {
      throw new InvalidRecordError(
        `addedDelayBy.${mover}`,
        `must be an Int32 number of ticks, got ${JSON.stringify(ticks)}`,
      );
    }
    out[mover] = ticks;
  }
  return out;
}

function stats(r: Rec, key: string): ResourceStats {
  const s = record(r[key], key);
  return {
    average: int(s, 'average', 0, UINT32_MAX),
    min: int(s, 'min', 0, UINT32_MAX),
    max: int(s, 'max', 0, UINT32_MAX),
  };
}

/** Validates a metrics window (from a job, so `unknown`) and maps it to its row. */
export function toWindowRow(value: unknown): WindowRow {
  const r = record(value, 'window');
  checkType(r, 'window');
  const cpu = stats(r, 'cpu');
  const io = stats(r, 'io');
  const memory = stats(r, 'memory');
  const row: WindowRow = {
    window_id: int(r, 'windowId', 0, Number.MAX_SAFE_INTEGER),
    first_tick: int(r, 'firstTick', 0, Number.MAX_SAFE_INTEGER),
    last_tick: int(r, 'lastTick', 0, Number.MAX_SAFE_INTEGER),
    samples: int(r, 'samples', 0, UINT32_MAX),
    cpu_avg: cpu.average,
    cpu_min: cpu.min,
    cpu_max: cpu.max,
    io_avg: io.average,
    io_min: io.min,
    io_max: io.max,
    memory_avg: memory.average,
    memory_min: memory.min,
    memory_max: memory.max,
    ts: int(r, 'timestamp', 0, MAX_EPOCH_MS),
  };
  if (row.last_tick < row.first_tick) throw new InvalidRecordError('lastTick', 'must not be before firstTick');
  const run = runId(r);
  if (run !== undefined) row.run_id = run;
  return row;
}

const SCHEDULER_MODES: readonly string[] = ['on', 'off', 'external'] satisfies RunEvent['scheduler'][];

function nullableInt(r: Rec, key: string, min: number, max: number): number | null {
  return r[key] === null ? null : int(r, key, min, max);
}

/** Validates a run record (from a job, so `unknown`) and maps it to its row. */
export function toRunRow(value: unknown): RunRow {
  const r = record(value, 'run');
  checkType(r, 'run');
  const seed = r.seed;
  if (typeof seed !== 'string' || seed.length === 0 || seed.length > MAX_TEXT) {
    throw new InvalidRecordError('seed', `must be a string of 1 to ${MAX_TEXT} characters`);
  }
  const scale = r.probabilityScale;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0) {
    throw new InvalidRecordError('probabilityScale', `must be a finite number ≥ 0, got ${JSON.stringify(scale)}`);
  }
  const scheduler = r.scheduler;
  if (typeof scheduler !== 'string' || !SCHEDULER_MODES.includes(scheduler)) {
    throw new InvalidRecordError('scheduler', `must be one of ${SCHEDULER_MODES.join(', ')}`);
  }
  const parameters = record(r.parameters ?? {}, 'parameters');
  const row: RunRow = {
    run_id: runId(r, true)!,
    started_at: int(r, 'startedAt', 0, MAX_EPOCH_MS),
    ended_at: nullableInt(r, 'endedAt', 0, MAX_EPOCH_MS),
    first_tick: int(r, 'firstTick', 0, Number.MAX_SAFE_INTEGER),
    last_tick: nullableInt(r, 'lastTick', 0, Number.MAX_SAFE_INTEGER),
    seed,
    query_count: int(r, 'queryCount', 0, UINT32_MAX),
    probability_scale: scale,
    tick_ms: int(r, 'tickMs', 1, UINT32_MAX),
    metrics_window_ticks: int(r, 'metricsWindowTicks', 1, UINT32_MAX),
    scheduler: scheduler as RunEvent['scheduler'],
    scheduler_started_at:
      r.schedulerStartedAt === undefined ? null : nullableInt(r, 'schedulerStartedAt', 0, MAX_EPOCH_MS),
    parameters: JSON.stringify(parameters),
    version: r.endedAt === null ? 0 : 1,
  };
  if (row.ended_at !== null && row.ended_at < row.started_at) {
    throw new InvalidRecordError('endedAt', 'must not be before startedAt');
  }
  return row;
}

/** Maps typed events (e.g. from a test or a replay); an invalid one is named by its index. */
export function executionRows(events: readonly ExecutedEvent[]): ExecutionRow[] {
  return events.map((e, i) => withIndex(i, () => toExecutionRow(e)));
}

export function windowRows(events: readonly WindowEvent[]): WindowRow[] {
  return events.map((e, i) => withIndex(i, () => toWindowRow(e)));
}

function withIndex<T>(index: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidRecordError) throw new InvalidRecordError(`[${index}].${err.field}`, err.detail);
    throw err;
  }
}
