/**
 * The Redis settings every component shares: where Redis is, and the one key prefix under which
 * every key of a run lives (BullMQ queues, the queued-events stream, locks, pub/sub channels), so
 * several runs can share one Redis.
 */
import { REDIS_URL_RULE, parseRedisUrl, RedisUrlError } from './redis-url.js';
import { text, type Setting } from './settings.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The `--redis-url` / `REDIS_URL` setting. `npm start` declares it without a default, because it
 * treats a URL the user gave differently from the default (system/private-redis.ts).
 */
export function redisUrlSetting<D extends string | undefined>(defaultUrl: D, doc: string): Setting<string | D> {
  const base = text({ flag: '--redis-url', env: 'REDIS_URL', default: defaultUrl, rule: REDIS_URL_RULE, doc });
  return {
    ...base,
    parse(raw) {
      const checked = base.parse(raw);
      if (!checked.ok) return checked;
      try {
        parseRedisUrl(raw);
        return checked;
      } catch (error) {
        if (error instanceof RedisUrlError) return { ok: false, rule: error.rule };
        throw error;
      }
    },
  };
}

export const redisSettings = {
  redisUrl: redisUrlSetting(
    DEFAULT_REDIS_URL,
    'Redis that holds the queues, the queued-events stream and the locks; redis+cluster://host:port,host:port,… for a Redis Cluster (seed nodes).',
  ),
  prefix: text({
    flag: '--redis-prefix',
    env: 'REDIS_PREFIX',
    default: 'spike',
    pattern: /^[A-Za-z0-9_.-]{1,100}$/,
    rule: 'must be 1–100 letters, digits, _ . or -',
    doc: 'Key prefix of every Redis key this product writes, so several runs can share one Redis. On a cluster the keys are written under {prefix}, one hash slot.',
  }),
};
