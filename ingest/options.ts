/**
 * Every option of an ingest worker, declared once (flag, environment variable, default, rule), and
 * compiled into `IngestOptions`: no optional fields, durations in milliseconds.
 *
 * The defaults: a batch of up to 500 rows or 200 ms, whichever comes first, and up to 1 000 jobs
 * in flight, so that the next batch fills while the previous one is being stored (a job is in flight
 * from the moment the worker takes it until its row is stored: in-flight jobs ≈ arrival rate ×
 * (flush interval + insert time)). Why not more: BullMQ 6's worker fetches jobs one round trip at
 * a time and starts processing only once it holds `concurrency` jobs or the queue is empty, so with
 * 5 000 and single-record jobs arriving at ~700/s it stalled for seconds (and with short locks the
 * locks expired before processing began) — found by the end-to-end fault test. Each completion also
 * scans the `active` list (LREM), so its cost grows with jobs in flight. Heavy load travels as
 * per-tick group jobs (RELAY_GROUP_ABOVE), a few per second, so throughput does not need more.
 */
import { ConfigError } from '../common/errors.js';
import { redisSettings } from '../common/redis-settings.js';
import { integer, text, toggle, type SettingValues } from '../common/settings.js';
import { redisKeyPrefix } from '../common/redis-url.js';

export const ingestSettings = {
  ...redisSettings,
  batchSize: integer({
    flag: '--ingest-batch-size',
    env: 'INGEST_BATCH_SIZE',
    default: 500,
    min: 1,
    max: 1_000_000,
    doc: 'Rows per ClickHouse insert at most; a full batch is inserted at once.',
  }),
  flushMs: integer({
    flag: '--ingest-flush-ms',
    env: 'INGEST_FLUSH_MS',
    default: 200,
    min: 1,
    max: 600_000,
    doc: 'A batch is inserted at the latest this long after its first row arrived.',
  }),
  concurrency: integer({
    flag: '--ingest-concurrency',
    env: 'INGEST_CONCURRENCY',
    default: 1000,
    min: 1,
    max: 1_000_000,
    doc: 'Execution jobs in flight per worker (waiting for their batch to be stored); at least 2 × batch size to keep inserts back to back.',
  }),
  insertConcurrency: integer({
    flag: '--ingest-insert-concurrency',
    env: 'INGEST_INSERT_CONCURRENCY',
    default: 2,
    min: 1,
    max: 64,
    doc: 'Batches being inserted at once, per queue.',
  }),
  retryBaseMs: integer({
    flag: '--ingest-retry-base-ms',
    env: 'INGEST_RETRY_BASE_MS',
    default: 100,
    min: 1,
    max: 600_000,
    doc: 'First wait before retrying a failed insert; doubles on each failure (with jitter).',
  }),
  retryMaxMs: integer({
    flag: '--ingest-retry-max-ms',
    env: 'INGEST_RETRY_MAX_MS',
    // 2 s, not longer: after ClickHouse comes back, ingest is healthy again within one wait. At
    // 10 s a 9 s insert outage left it degraded 5.5–6.6 s after inserts worked (the chaos run).
    default: 2_000,
    min: 1,
    max: 3_600_000,
    doc: 'Longest wait between insert retries. Transient failures are retried for as long as it takes.',
  }),
  maxAttempts: integer({
    flag: '--ingest-max-attempts',
    env: 'INGEST_MAX_ATTEMPTS',
    default: 5,
    min: 1,
    max: 1000,
    doc: 'Attempts at an insert failing with an unrecognized ClickHouse error before the batch is split to find the record to dead-letter.',
  }),
  lockMs: integer({
    flag: '--ingest-lock-ms',
    env: 'INGEST_LOCK_MS',
    default: 30_000,
    min: 1000,
    max: 3_600_000,
    doc: 'BullMQ job lock; renewed while the worker lives, so it bounds how long a killed worker’s jobs wait before re-delivery.',
  }),
  stalledIntervalMs: integer({
    flag: '--ingest-stalled-interval-ms',
    env: 'INGEST_STALLED_INTERVAL_MS',
    default: 15_000,
    min: 100,
    max: 3_600_000,
    doc: 'How often a worker looks for jobs whose lock expired (a killed worker’s) and re-queues them.',
  }),
  maxStalledCount: integer({
    flag: '--ingest-max-stalled',
    env: 'INGEST_MAX_STALLED',
    default: 20,
    min: 1,
    max: 1_000_000,
    doc: 'Re-deliveries of a stalled job before BullMQ moves it to its failed set (kept, never deleted).',
  }),
  keepCompleted: integer({
    flag: '--ingest-keep-completed',
    env: 'INGEST_KEEP_COMPLETED',
    default: 1000,
    min: 0,
    max: 10_000_000,
    doc: 'Completed jobs kept in Redis per queue (for inspection; duplicates are handled by ClickHouse).',
  }),
  shutdownTimeoutMs: integer({
    flag: '--ingest-shutdown-timeout-ms',
    env: 'INGEST_SHUTDOWN_TIMEOUT_MS',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: 'Graceful shutdown: how long to wait for in-flight batches; jobs not stored by then are re-delivered later.',
  }),
  statsIntervalMs: integer({
    flag: '--ingest-stats-interval-ms',
    env: 'INGEST_STATS_INTERVAL_MS',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    doc: 'How often to log throughput counters; 0 never.',
  }),
};

/** Settings of the ingest process alone (`npm run ingest`); in `npm start`, `/healthz` of the API says it. */
export const ingestProcessSettings = {
  healthPort: integer({
    flag: '--health-port',
    env: 'INGEST_HEALTH_PORT',
    default: 0,
    min: 0,
    max: 65535,
    doc: 'Port of GET /healthz (ok, or degraded with the reasons while records are held) and GET /metrics (Prometheus text format); 0: none.',
  }),
  healthHost: text({
    flag: '--health-host',
    env: 'INGEST_HEALTH_HOST',
    default: '127.0.0.1',
    maxLength: 255,
    doc: 'Address of the --health-port endpoint (0.0.0.0 in compose, so Prometheus can reach it).',
  }),
};

/** `npm run dead-letter` (ingest/dead-letter-cli.ts): which records, and how to print them. */
export const deadLetterCliSettings = {
  ...redisSettings,
  ids: text({
    flag: '--id',
    default: undefined,
    repeatable: true,
    maxLength: 65_536,
    pattern: /^[\w.[\]-]{1,300}(,[\w.[\]-]{1,300})*$/,
    rule: 'must be dead-letter ids as `list` shows them (letters, digits, _ . - [ ]), comma-separated or repeated',
    doc: 'Only these records (repeatable, or comma-separated); default: every record.',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'list: print one JSON array, with each record’s payload.' }),
};

export type IngestSettingValues = SettingValues<typeof ingestSettings>;

/** One ingest worker's options: every field present, durations in ms. */
export interface IngestOptions {
  redis: { url: string; prefix: string };
  batch: { maxSize: number; flushMs: number; insertConcurrency: number };
  retry: { baseMs: number; maxMs: number; maxAttempts: number };
  worker: {
    /** Jobs in flight on the executions queue (metrics: at most 1000, they are one per second). */
    concurrency: number;
    lockMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    keepCompleted: number;
  };
  shutdownTimeoutMs: number;
  statsIntervalMs: number;
}

export function compileIngestOptions(v: IngestSettingValues): IngestOptions {
  if (v.retryMaxMs < v.retryBaseMs) {
    throw new ConfigError('retryMaxMs', v.retryMaxMs, `must be ≥ retryBaseMs (${v.retryBaseMs})`);
  }
  return {
    redis: { url: v.redisUrl, prefix: redisKeyPrefix(v.redisUrl, v.prefix) },
    batch: { maxSize: v.batchSize, flushMs: v.flushMs, insertConcurrency: v.insertConcurrency },
    retry: { baseMs: v.retryBaseMs, maxMs: v.retryMaxMs, maxAttempts: v.maxAttempts },
    worker: {
      concurrency: v.concurrency,
      lockMs: v.lockMs,
      stalledIntervalMs: v.stalledIntervalMs,
      maxStalledCount: v.maxStalledCount,
      keepCompleted: v.keepCompleted,
    },
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    statsIntervalMs: v.statsIntervalMs,
  };
}

/** Options for tests and tools: the defaults, with overrides. */
export function ingestOptions(overrides: Partial<IngestSettingValues> = {}): IngestOptions {
  const defaults = Object.fromEntries(
    Object.entries(ingestSettings).map(([k, s]) => [k, s.default]),
  ) as IngestSettingValues;
  return compileIngestOptions({ ...defaults, ...overrides });
}
