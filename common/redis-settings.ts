/**
 * The Redis settings every component shares: where Redis is, and the one key prefix under which
 * every key of a run lives (BullMQ queues, the queued-events stream, locks, pub/sub channels), so
 * several runs can share one Redis.
 */
import { text } from './settings.js';

export const redisSettings = {
  redisUrl: text({
    flag: '--redis-url',
    env: 'REDIS_URL',
    default: 'redis://127.0.0.1:6379',
    pattern: /^rediss?:\/\/\S+$/,
    rule: 'must be a redis:// or rediss:// URL',
    doc: 'Redis that holds the queues, the queued-events stream and the locks.',
  }),
  prefix: text({
    flag: '--redis-prefix',
    env: 'REDIS_PREFIX',
    default: 'spike',
    pattern: /^[A-Za-z0-9_.-]{1,100}$/,
    rule: 'must be 1–100 letters, digits, _ . or -',
    doc: 'Key prefix of every Redis key this product writes, so several runs can share one Redis.',
  }),
};
