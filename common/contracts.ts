/**
 * The contracts between components: the events the simulated database emits, the shapes of its
 * HTTP API, and (later) the Redis and ClickHouse records built from them. Components never import
 * each other's internals; they agree on these types and on the validation schemas below.
 */
import { z } from 'zod';

/** The three resources the database reports, in the order the reports and tables use. */
export const RESOURCES = ['cpu', 'io', 'memory'] as const;
export type Resource = (typeof RESOURCES)[number];

/** A query's profile names its dominant resource (`i mod 3`: 0 cpu, 1 io, 2 memory). */
export type Profile = Resource;

/** One resource's 1-second aggregate. Integers; `average` is truncated toward zero. */
export interface ResourceStats {
  average: number;
  min: number;
  max: number;
}

/** Emitted when an execution joins the queue (step 3 of a tick). */
export interface QueuedEvent {
  type: 'queued';
  executionId: string;
  queryId: string;
  /** The tick that queued it. */
  tick: number;
  /** The tick it will run at if nobody delays it (`tick + defaultDelay`). */
  scheduledTick: number;
  /** Epoch ms of `tick`. */
  timestamp: number;
  /** Epoch ms of `scheduledTick`. */
  scheduledTimestamp: number;
}

/** Emitted when an execution runs and leaves the queue (step 1 of a tick). */
export interface ExecutedEvent {
  type: 'executed';
  executionId: string;
  queryId: string;
  queuedTick: number;
  executedTick: number;
  /** `executedTick − (queuedTick + defaultDelay)`, in ticks; 0 when nobody delayed it. */
  addedDelay: number;
  /** How many accepted `/delay` requests moved this execution. */
  delayCount: number;
  /** Who sent the last accepted `/delay` for it (the request's optional `by`), or null. */
  delayedBy: string | null;
  /**
   * `addedDelay` split by who moved it: for each `by` (`""` for requests that named nobody), the
   * ticks its accepted requests moved the execution, summed. The values add up to `addedDelay`.
   * Present when `delayCount > 0` (records written before it existed lack it).
   */
  addedDelayBy?: DelayParts;
  /** Epoch ms of `queuedTick`. */
  queuedAt: number;
  /** Epoch ms of `executedTick`. */
  executedAt: number;
  /** The run that executed it (see `RunEvent`): stamped by the capture layer, absent in older records. */
  runId?: string;
}

/** Ticks an execution was moved, per mover (a `/delay` request's `by`; `""` when it named nobody). */
export type DelayParts = Record<string, number>;

/** Emitted when a `POST /delay` is accepted: who moved which execution, by how much, to where. */
export interface DelayedEvent {
  type: 'delayed';
  executionId: string;
  /** The request's `by`, or null when it named nobody. */
  by: string | null;
  requestedDelay: number;
  /** The change actually applied (after the one-tick floor). */
  appliedDelay: number;
  /** Where the execution is scheduled now. */
  scheduledTick: number;
}

/** Emitted when a metrics window closes: the aggregate of its ticks' samples. */
export interface WindowEvent {
  type: 'window';
  /** `floor(tick / W)`: covers ticks `[windowId·W, windowId·W + W − 1]` (clipped to the run's first tick). */
  windowId: number;
  firstTick: number;
  lastTick: number;
  /** Number of tick samples aggregated (W for every aligned window). */
  samples: number;
  cpu: ResourceStats;
  io: ResourceStats;
  memory: ResourceStats;
  /** Epoch ms at which the window was aggregated (the time of `lastTick`). */
  timestamp: number;
  /** The run it belongs to: stamped by the capture layer, absent in older records. */
  runId?: string;
}

/**
 * A run: one start of the database server, from its first tick to its stop. The capture layer
 * records it twice, when it begins (`endedAt` null) and when it ends (the same fields, `endedAt`
 * and `lastTick` set), so a run that crashed is one whose end never arrives.
 */
export interface RunEvent {
  type: 'run';
  /** `20261203T141502Z-3f9a1c`: the start time (sortable) and a random suffix. */
  runId: string;
  /** Epoch ms of the start, and of the end (null in the start record). */
  startedAt: number;
  endedAt: number | null;
  firstTick: number;
  /** The last tick the run executed (null in the start record). */
  lastTick: number | null;
  seed: string;
  queryCount: number;
  probabilityScale: number;
  tickMs: number;
  metricsWindowTicks: number;
  /** 'on': the scheduler runs in the same process; 'off': turned off; 'external': another process may run it. */
  scheduler: 'on' | 'off' | 'external';
  /** Epoch ms at which the in-process scheduler starts deciding (null unless `scheduler` is 'on'). */
  schedulerStartedAt: number | null;
  /** Every setting of the run, for people (simulation, and scheduler when in-process). */
  parameters: Record<string, unknown>;
}

export type DatabaseEvent = QueuedEvent | ExecutedEvent | WindowEvent;

/** A query's true cost vector and base probability: ground truth, for evaluation only. */
export interface TrueQuery {
  id: string;
  profile: Profile;
  cpu: number;
  memory: number;
  io: number;
  /** Base per-tick selection probability `p_i` (before the probability scale and traffic curve). */
  probability: number;
}

// ---------------------------------------------------------------------------------------------
// HTTP API (docs/simulation.md "The HTTP API"). Field names, types and meaning are fixed; extra fields are allowed.

/** One element of `GET /queued`. */
export interface QueuedItem {
  query: { id: string };
  execution: {
    id: string;
    /** Epoch ms at which it is scheduled to run: now + remaining ticks × tick length. */
    timestamp: number;
    /** Extra: the tick it is scheduled to run at, and the tick that queued it. */
    scheduledTick: number;
    queuedTick: number;
    /** Extra, once somebody moved it: the ticks each mover added so far (see `ExecutedEvent.addedDelayBy`). */
    addedDelayBy?: DelayParts;
  };
}

/** `GET /resources`: the latest 1-second aggregate (all zeros before the first window closes). */
export interface ResourcesResponse {
  cpu: ResourceStats;
  io: ResourceStats;
  memory: ResourceStats;
  timestamp: number;
  /** Extras: which window this is (−1 before the first), its ticks and sample count. */
  windowId: number;
  firstTick: number;
  lastTick: number;
  samples: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `POST /delay` body. The bound on `|delay|` is a setting, so it is checked by the handler. */
export const DelayRequestSchema = z.object({
  id: z
    .string({ error: 'id must be a string (an execution UUID)' })
    .regex(UUID, 'id must be an execution UUID')
    .transform((id) => id.toLowerCase()),
  delay: z
    .number({ error: 'delay must be an integer number of ticks' })
    .int('delay must be an integer number of ticks'),
  /** Optional: who asks (e.g. "scheduler"), recorded with the execution. */
  by: z
    .string({ error: 'by must be a string' })
    .regex(/^[\w.:-]{1,64}$/, 'by must be 1–64 characters of letters, digits, _ . : -')
    .optional(),
  /**
   * Optional: the tick the client believes the execution is scheduled at. If somebody else moved
   * it meanwhile, the request is refused with 409 and changes nothing (a compare-and-set: the
   * scheduler never moves an execution on top of another client's move it has not seen yet).
   */
  expectedTick: z
    .number({ error: 'expectedTick must be an integer tick' })
    .int('expectedTick must be an integer tick')
    .optional(),
});
export type DelayRequest = z.infer<typeof DelayRequestSchema>;

/** Most delay requests one `POST /delays` may carry. */
export const MAX_DELAY_BATCH = 1000;

/**
 * One answer of `POST /delays`, in the order of the requests: what `POST /delay` would have
 * answered for that request alone, its status code in `status`.
 */
export type DelayBatchResult =
  | ({ status: 200 } & DelayResponse)
  | { status: 404 | 409; id: string; error: { code: string; message: string; field?: string } };

/** `POST /delays` success body. */
export interface DelayBatchResponse {
  results: DelayBatchResult[];
}

/** `POST /delay` success body. */
export interface DelayResponse {
  id: string;
  /** The delay that was requested, and the one applied after the one-tick floor. */
  requestedDelay: number;
  appliedDelay: number;
  scheduledTick: number;
  /** Epoch ms at which it is now scheduled to run. */
  timestamp: number;
}

/** The JSON body of every error response. `field` names the offending input where there is one. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** `GET /stats`: counters that completeness checks compare against. */
export interface DatabaseStats {
  /** Ticks processed so far by this process. */
  ticks: number;
  /** The first tick of this run, and the next tick to run (the last processed is `nextTick − 1`). */
  firstTick: number;
  nextTick: number;
  queuedTotal: number;
  executedTotal: number;
  queueLength: number;
  windowsTotal: number;
  delaysAccepted: number;
  /** The run's tick length and metrics window, so tools can turn ticks into time and windows. */
  tickMs: number;
  metricsWindowTicks: number;
  /** Ticks an execution waits when nobody delays it, and the largest |delay| one request may ask. */
  defaultDelay: number;
  maxDelay: number;
}

// ---------------------------------------------------------------------------------------------
// Redis (BullMQ) contracts between the server's relay and the ingest workers. Every key lives
// under one configurable prefix (BullMQ's `prefix` option), so several runs can share a Redis.

export const QUEUE_EXECUTIONS = 'executions';
export const QUEUE_METRICS = 'metrics';
/** The start and end records of runs (`RunEvent`). */
export const QUEUE_RUNS = 'runs';
/** Records that can never be stored, with the reason: never silently dropped. */
export const QUEUE_DEAD_LETTER = 'dead-letter';

/** Job id of an execution record: the execution id, so a re-delivered record is the same job. */
export function executionJobId(e: Pick<ExecutedEvent, 'executionId'>): string {
  return e.executionId;
}

/** Job id of a metrics window. BullMQ refuses integer custom ids, hence the `window-` prefix. */
export function windowJobId(w: Pick<WindowEvent, 'windowId'>): string {
  return `window-${w.windowId}`;
}

/** Job id of a run record: one for its start, one for its end. */
export function runJobId(r: Pick<RunEvent, 'runId' | 'endedAt'>): string {
  return `run-${r.runId}-${r.endedAt === null ? 'start' : 'end'}`;
}

/**
 * Under heavy load the executions of one tick travel together as one record and one job (see
 * `groupAbove` in the capture options): BullMQ's per-job cost in Redis, not the data, is what limits
 * throughput. Its job id is the tick, which is unique across runs (ticks are wall-clock numbered) and
 * deterministic, so a re-sent group is the same job; ClickHouse still dedups by execution id.
 */
export interface ExecutionGroup {
  type: 'executions';
  tick: number;
  executions: ExecutedEvent[];
}

export function executionGroupJobId(g: Pick<ExecutionGroup, 'tick'>): string {
  return `tick-${g.tick}`;
}

export type ExecutionJobData = ExecutedEvent | ExecutedEvent[];
export type WindowJobData = WindowEvent;

export interface DeadLetterJobData {
  /** The queue the record came from, its job id and payload, and why it could not be stored. */
  queue: string;
  jobId: string;
  data: unknown;
  reason: string;
  failedAt: number;
  /** How many times the record had been replayed (`npm run dead-letter -- replay`) before this failure. */
  replays?: number;
}

// ---------------------------------------------------------------------------------------------
// The queued-events stream between the server and the scheduler (a Redis Stream, capped). The
// server appends every queued event of a tick, then one `tick-end` entry, in one round trip after
// the tick; the scheduler reads it with a consumer group. The stream is a fast path, not a record:
// entries may be lost while Redis is down (the scheduler then rebuilds from `GET /queued`).

/** Stream key of the queued events, under the run's prefix. */
export function queuedStreamKey(prefix: string): string {
  return `${prefix}:queued`;
}

/** The scheduler's consumer group on the queued stream (one scheduler per database). */
export const SCHEDULER_GROUP = 'scheduler';

/** Field of a stream entry that holds its JSON body. */
export const STREAM_FIELD = 'e';

/**
 * Closes a tick in the stream: every queued event of `tick` precedes it, and so does every delay
 * the database accepted since the previous tick-end (`DelayedEvent` entries, in the order they
 * were accepted), so a scheduler learns of other clients' moves before it decides again.
 */
export interface TickEndEntry {
  type: 'tick-end';
  tick: number;
  /** The next tick the database runs: the scheduler decides for it now. */
  nextTick: number;
  /** How many queued entries of this tick precede this one (a gap check for the reader). */
  queued: number;
  /** How many delayed entries precede this one since the previous tick-end (a gap check too). */
  delayed: number;
  /** Epoch ms when the server published the tick's entries (the start of the decision latency). */
  publishedAt: number;
}

export type QueuedStreamEntry = QueuedEvent | DelayedEvent | TickEndEntry;

/** Redis key where a scheduler publishes its live figures (JSON, with an expiry) for `GET /stats`. */
export function schedulerStatsKey(prefix: string): string {
  return `${prefix}:scheduler:stats`;
}
