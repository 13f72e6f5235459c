/**
 * The ingest workers: BullMQ queues of execution records and metrics windows into ClickHouse,
 * batched, acknowledged only once stored, retried with backoff, dead-lettered when unstorable.
 */
export { Batcher, type BatcherOptions, type BatcherStats, type Outcome } from './batcher.js';
export { QueueConsumer, type ConsumerSpec, type ConsumerStats } from './consumer.js';
export { startHealthEndpoint, type HealthEndpoint } from './health-endpoint.js';
export { registerIngestMetrics } from './metrics.js';
export {
  DeadLetterQueue,
  deadLetterJobId,
  isReplayable,
  ReplayRefusedError,
  replayJobName,
  replaysOf,
  UnknownDeadLetterError,
  type DeadLetter,
  type Unstorable,
} from './dead-letter.js';
export {
  compileIngestOptions,
  ingestOptions,
  ingestProcessSettings,
  ingestSettings,
  type IngestOptions,
  type IngestSettingValues,
} from './options.js';
export { describeInsertFailure, InsertHealth, type InsertFailure, type InsertFailureKind } from './insert-health.js';
export { backoffDelay, sleep, type BackoffOptions } from './retry.js';
export {
  startIngest,
  type CloseResult,
  type IngestHandle,
  type IngestHealth,
  type IngestState,
  type IngestStats,
  type StartIngestOptions,
} from './worker.js';
