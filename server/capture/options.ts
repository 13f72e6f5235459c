/**
 * Settings of the capture layer (durable outbox + relay to BullMQ), declared once with their flag,
 * environment variable, default and rule. `compileCaptureOptions` turns the validated values into
 * `CaptureOptions`, which has no optional fields; every duration is in milliseconds.
 */
import { ConfigError } from '../../common/errors.js';
import { redisSettings } from '../../common/redis-settings.js';
import { integer, text, toggle, type SettingValues } from '../../common/settings.js';
import { redisKeyPrefix } from '../../common/redis-url.js';

export const captureSettings = {
  outboxDir: text({
    flag: '--outbox-dir',
    env: 'OUTBOX_DIR',
    default: './data/outbox',
    doc: 'Directory of the durable outbox (segment files and the acknowledged position).',
    maxLength: 4096,
  }),
  segmentBytes: integer({
    flag: '--outbox-segment-bytes',
    env: 'OUTBOX_SEGMENT_BYTES',
    default: 16 * 1024 * 1024,
    min: 4096,
    max: 1024 * 1024 * 1024,
    doc: 'A segment file is closed and a new one started once it holds at least this many bytes.',
  }),
  batchSize: integer({
    flag: '--relay-batch-size',
    env: 'RELAY_BATCH_SIZE',
    // Measured: 1000 records per batch with 2 batches in flight is as fast as larger batches here;
    // larger ones only add memory (the relay holds `concurrency` batches, ~1 KB per record) and a
    // longer synchronous parse on the event loop the ticks share.
    default: 1000,
    min: 1,
    max: 100_000,
    doc: 'Most records the relay reads from the outbox and sends to BullMQ in one addBulk round.',
  }),
  addBulkSize: integer({
    flag: '--relay-add-bulk-size',
    env: 'RELAY_ADD_BULK_SIZE',
    default: 250,
    min: 1,
    max: 100_000,
    doc: 'Jobs per BullMQ addBulk call; a batch is sent as several calls with a yield between, so no call holds the event loop (and the ticks) for long.',
  }),
  concurrency: integer({
    flag: '--relay-concurrency',
    env: 'RELAY_CONCURRENCY',
    default: 2,
    min: 1,
    max: 16,
    doc: 'Batches in flight at once; acknowledged in order, so the position never skips a record.',
  }),
  relayDelayMs: integer({
    flag: '--relay-delay-ms',
    env: 'RELAY_DELAY_MS',
    // Measured in npm start at probability scale 10: decision latency p50 / p99 3–4 / 11–13 ms with
    // 20, 5–6 / 13–15 ms with 0 (the relay then works while the scheduler reads and decides).
    default: 20,
    min: 0,
    max: 10_000,
    doc: "How long after a tick the relay starts sending its records, out of the scheduler's way (records are on disk meanwhile); 0 sends at once.",
  }),
  backoffMinMs: integer({
    flag: '--relay-backoff-min-ms',
    env: 'RELAY_BACKOFF_MIN_MS',
    default: 100,
    min: 1,
    max: 600_000,
    doc: 'First wait after a failed send; it doubles on each further failure.',
  }),
  backoffMaxMs: integer({
    flag: '--relay-backoff-max-ms',
    env: 'RELAY_BACKOFF_MAX_MS',
    default: 2000,
    min: 1,
    max: 600_000,
    doc: 'Longest wait between send attempts (and between Redis reconnection attempts).',
  }),
  sendTimeoutMs: integer({
    flag: '--relay-send-timeout-ms',
    env: 'RELAY_SEND_TIMEOUT_MS',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    doc: 'A send that Redis has not acknowledged by then counts as failed; the connection is reset.',
  }),
  drainTimeoutMs: integer({
    flag: '--relay-drain-timeout-ms',
    env: 'RELAY_DRAIN_TIMEOUT_MS',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    doc: 'On shutdown, how long the relay keeps sending what is left before stopping (the rest stays on disk).',
  }),
  logIntervalMs: integer({
    flag: '--capture-log-interval-ms',
    env: 'CAPTURE_LOG_INTERVAL_MS',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    doc: 'While records wait for Redis, the backlog (records, bytes, lag, Redis state) is logged this often.',
  }),
  keepCompleted: integer({
    flag: '--relay-keep-completed',
    env: 'RELAY_KEEP_COMPLETED',
    default: 1000,
    min: 0,
    max: 10_000_000,
    doc: 'Completed jobs BullMQ keeps per queue (removeOnComplete count); 0 removes them at once.',
  }),
  keepFailed: integer({
    flag: '--relay-keep-failed',
    env: 'RELAY_KEEP_FAILED',
    default: 10_000,
    min: 0,
    max: 10_000_000,
    doc: 'Failed jobs BullMQ keeps per queue (removeOnFail count), for investigation.',
  }),
  groupAbove: integer({
    flag: '--relay-group-above',
    env: 'RELAY_GROUP_ABOVE',
    default: 64,
    min: 0,
    max: 1_000_000,
    doc: 'A tick with more executions than this sends them as one job (id tick-<n>) instead of one job per execution.',
  }),
  queuedStreamMaxLen: integer({
    flag: '--queued-stream-max-len',
    env: 'QUEUED_STREAM_MAX_LEN',
    default: 100_000,
    min: 0,
    max: 100_000_000,
    doc: 'Approximate cap on the Redis Stream of queued events the scheduler reads (older entries are trimmed); 0 publishes nothing.',
  }),
  allowVolatileRedis: toggle({
    flag: '--allow-volatile-redis',
    env: 'ALLOW_VOLATILE_REDIS',
    default: false,
    doc: 'Relay to a Redis without append-only persistence (appendonly yes, appendfsync always or everysec). Without it the relay refuses such a Redis, at start and after every reconnect, since a restart of it would lose records the outbox already deleted. For tests and throwaway runs.',
  }),
  ...redisSettings,
};

export type CaptureSettingValues = SettingValues<typeof captureSettings>;

/** The capture layer's options: every field present, durations in ms. */
export interface CaptureOptions {
  outboxDir: string;
  segmentBytes: number;
  batchSize: number;
  addBulkSize: number;
  concurrency: number;
  /** Delay between a tick's commit and the relay's start (0: at once). */
  relayDelayMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  sendTimeoutMs: number;
  drainTimeoutMs: number;
  logIntervalMs: number;
  keepCompleted: number;
  keepFailed: number;
  /** Executions per tick above which they travel as one group job. */
  groupAbove: number;
  /** Cap of the queued-events stream; 0: not published. */
  queuedStreamMaxLen: number;
  /** Relay to a Redis that does not persist what it acknowledges (redis-persistence.ts). */
  allowVolatileRedis: boolean;
  redisUrl: string;
  prefix: string;
}

/** The defaults, as a compiled options object (for tests and tools that override a few fields). */
export const DEFAULT_CAPTURE: CaptureOptions = compileCaptureOptions(
  Object.fromEntries(Object.entries(captureSettings).map(([k, s]) => [k, s.default])) as CaptureSettingValues,
);

/** Builds and cross-checks the options from validated setting values. */
export function compileCaptureOptions(v: CaptureSettingValues): CaptureOptions {
  if (v.backoffMinMs > v.backoffMaxMs) {
    throw new ConfigError('backoffMinMs', v.backoffMinMs, `must be ≤ backoffMaxMs (${v.backoffMaxMs})`);
  }
  return {
    outboxDir: v.outboxDir,
    segmentBytes: v.segmentBytes,
    batchSize: v.batchSize,
    addBulkSize: v.addBulkSize,
    concurrency: v.concurrency,
    relayDelayMs: v.relayDelayMs,
    backoffMinMs: v.backoffMinMs,
    backoffMaxMs: v.backoffMaxMs,
    sendTimeoutMs: v.sendTimeoutMs,
    drainTimeoutMs: v.drainTimeoutMs,
    logIntervalMs: v.logIntervalMs,
    keepCompleted: v.keepCompleted,
    keepFailed: v.keepFailed,
    groupAbove: v.groupAbove,
    queuedStreamMaxLen: v.queuedStreamMaxLen,
    allowVolatileRedis: v.allowVolatileRedis,
    redisUrl: v.redisUrl,
    prefix: redisKeyPrefix(v.redisUrl, v.prefix),
  };
}
