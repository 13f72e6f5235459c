/**
 * Settings of the live scheduler service (`npm run scheduler`, and the scheduler inside `npm start`),
 * declared once with flag, environment variable, default and rule; the policy's own settings are in
 * options.ts. `compileServiceOptions` yields a type with no optional fields, durations in ms.
 */
import { integer, text, toggle, type SettingValues } from '../common/settings.js';
import { redisKeyPrefix } from '../common/redis-url.js';

export const schedulerServiceSettings = {
  serverUrl: text({
    flag: '--server-url',
    env: 'SERVER_URL',
    default: 'http://127.0.0.1:8080',
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'Base URL of the database API the scheduler reads the queue from and sends /delay to.',
  }),
  consumer: text({
    flag: '--scheduler-consumer',
    env: 'SCHEDULER_CONSUMER',
    default: 'scheduler-1',
    pattern: /^[A-Za-z0-9_.-]{1,100}$/,
    rule: 'must be 1–100 letters, digits, _ . or -',
    doc: 'Consumer name in the stream’s consumer group; keep it stable so a restart takes over its own pending entries.',
  }),
  readCount: integer({
    flag: '--scheduler-read-count',
    env: 'SCHEDULER_READ_COUNT',
    default: 5000,
    min: 1,
    max: 1_000_000,
    doc: 'Most stream entries read at once (a backlog after a pause is read in one go).',
  }),
  requestTimeoutMs: integer({
    flag: '--scheduler-request-timeout-ms',
    env: 'SCHEDULER_REQUEST_TIMEOUT_MS',
    default: 2000,
    min: 10,
    max: 600_000,
    doc: 'Timeout of each call to the database API.',
  }),
  estimatesRefreshMs: integer({
    flag: '--scheduler-estimates-refresh-ms',
    env: 'SCHEDULER_ESTIMATES_REFRESH_MS',
    default: 60_000,
    min: 100,
    max: 86_400_000,
    doc: 'Besides reloading on each announcement, the latest estimates are checked this often (an announcement can be missed while Redis is away).',
  }),
  withoutIdleGc: toggle({
    flag: '--without-idle-gc',
    env: 'WITHOUT_IDLE_GC',
    default: false,
    doc: 'Leave garbage collection to V8 instead of running a young-generation collection right after each tick’s decisions are acknowledged (which keeps collections out of the next burst).',
  }),
  statsIntervalMs: integer({
    flag: '--scheduler-stats-interval-ms',
    env: 'SCHEDULER_STATS_INTERVAL_MS',
    default: 1000,
    min: 100,
    max: 600_000,
    doc: 'How often the scheduler publishes its figures to Redis (shown by the server’s GET /stats).',
  }),
};

export type SchedulerServiceSettingValues = SettingValues<typeof schedulerServiceSettings>;

export interface SchedulerServiceOptions {
  serverUrl: string;
  redisUrl: string;
  prefix: string;
  consumer: string;
  readCount: number;
  /** How long one blocking stream read waits before the loop checks for shutdown. */
  blockMs: number;
  requestTimeoutMs: number;
  estimatesRefreshMs: number;
  statsIntervalMs: number;
  /** Name sent as `by` with each `/delay`. */
  by: string;
  /** Run a young-generation GC after each tick's decisions (common/idle-gc.ts). */
  idleGc: boolean;
}

/** Everything but the server's URL, which embedded mode takes from the API it starts itself. */
export function compileServiceOptions(
  v: Omit<SchedulerServiceSettingValues, 'serverUrl'> & { redisUrl: string; prefix: string },
): Omit<SchedulerServiceOptions, 'serverUrl'> {
  return {
    redisUrl: v.redisUrl,
    prefix: redisKeyPrefix(v.redisUrl, v.prefix),
    consumer: v.consumer,
    readCount: v.readCount,
    blockMs: 500,
    requestTimeoutMs: v.requestTimeoutMs,
    estimatesRefreshMs: v.estimatesRefreshMs,
    statsIntervalMs: v.statsIntervalMs,
    by: 'scheduler',
    idleGc: !v.withoutIdleGc,
  };
}
