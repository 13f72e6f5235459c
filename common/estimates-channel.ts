/**
 * The new-version announcement: after a version is committed, the analysis job publishes it on the
 * Redis channel `<prefix>:estimates`, and the scheduler reloads (`loadLatestEstimates`,
 * clickhouse/estimates.ts). A contract between the two components, so it lives here. Pub/sub is
 * fire-and-forget: a subscriber that is disconnected at that moment misses the message. So the
 * subscriber helper also calls its handler with `null` each time its subscription is (re)established
 * — "you may have missed something: reload" — which covers start-up and every Redis reconnection.
 */
import { createRedis, type RedisClient } from './redis-client.js';
import { silentLogger, type Logger } from './logger.js';

export interface EstimatesAnnouncement {
  version: number;
  /** Epoch ms of the run. */
  computedAt: number;
  queries: number;
}

export function estimatesChannel(prefix: string): string {
  return `${prefix}:estimates`;
}

export async function publishEstimates(redis: RedisClient, prefix: string, a: EstimatesAnnouncement): Promise<number> {
  return redis.publish(estimatesChannel(prefix), JSON.stringify(a));
}

export interface EstimatesSubscription {
  /** Resolves once subscribed the first time. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Calls `onVersion` with each announcement, and with `null` on every (re)subscription. The handler's
 * errors are logged, never thrown (one bad reload must not end the subscription).
 */
export function subscribeEstimates(params: {
  redisUrl: string;
  prefix: string;
  onVersion: (announcement: EstimatesAnnouncement | null) => void | Promise<void>;
  logger?: Logger;
}): EstimatesSubscription {
  const log = (params.logger ?? silentLogger).child({ component: 'estimates-subscriber' });
  const channel = estimatesChannel(params.prefix);
  const redis = createRedis(params.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: 'spike-estimates-subscriber',
  });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
  const call = (a: EstimatesAnnouncement | null) => {
    Promise.resolve()
      .then(() => params.onVersion(a))
      .catch((err: unknown) => log.warn({ err: String(err), version: a?.version ?? null }, 'estimates handler failed'));
  };
  redis.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let a: EstimatesAnnouncement;
    try {
      a = JSON.parse(message) as EstimatesAnnouncement;
    } catch {
      log.warn({ message: message.slice(0, 200) }, 'ignoring a malformed estimates announcement');
      return;
    }
    call(a);
  });
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  // ioredis re-subscribes by itself after a reconnection; 'ready' fires each time it is connected.
  let subscribedOnce = false;
  redis.on('ready', () => {
    const first = !subscribedOnce;
    subscribedOnce = true;
    // The first subscribe is issued below; on reconnection ioredis restores it (autoResubscribe).
    if (!first) call(null);
  });
  void redis.subscribe(channel).then(
    () => {
      resolveReady();
      call(null);
    },
    (err: unknown) => log.warn({ err: String(err) }, 'could not subscribe to estimates announcements'),
  );
  return {
    ready,
    async close() {
      try {
        if (redis.status === 'ready') await redis.quit();
      } finally {
        redis.disconnect();
      }
    },
  };
}
