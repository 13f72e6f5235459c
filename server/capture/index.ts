/**
 * The capture layer's public surface: durable outbox + relay to BullMQ, wired by `startCapture`.
 */
export {
  startCapture,
  type Capture,
  type CaptureStats,
  type CapturedDatabase,
  type RunStart,
  type StartCaptureParams,
} from './capture.js';
export {
  captureSettings,
  compileCaptureOptions,
  DEFAULT_CAPTURE,
  type CaptureOptions,
  type CaptureSettingValues,
} from './options.js';
export { Outbox, type OutboxOptions, type OutboxStats } from './outbox.js';
export type { OutboxBatch, OutboxRecord, InvalidLine } from './outbox-batch.js';
export type { OutboxPosition } from './position-file.js';
export { Relay, type RelayLink, type RelayOptions, type RelaySink, type RelayState, type RelayStats } from './relay.js';
export { RedisLink, type RedisLinkOptions, type RedisLinkStats, type RedisState } from './redis-link.js';
export { BullmqSink, type BullmqSinkOptions, type SendResult } from './bullmq-sink.js';
export {
  OutboxAckOrderError,
  OutboxClosedError,
  OutboxLockedError,
  OutboxWriteError,
  RelaySendTimeoutError,
  VolatileRedisError,
} from './errors.js';
export {
  judgeConfig,
  judgeInfo,
  readRedisPersistence,
  requireDurableRedis,
  volatileRedisMessage,
  type RedisPersistence,
} from './redis-persistence.js';
