/**
 * The queued-events stream on the shared Redis (random prefix): after each tick, the delays the
 * database accepted since the previous tick, then the tick's queued events, then a tick-end entry
 * that counts both — what the scheduler needs to know who else moved what before it decides.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { queuedStreamKey, STREAM_FIELD, type QueuedStreamEntry } from '../../../common/contracts.js';
import { silentLogger } from '../../../common/logger.js';
import { QueuedStream } from '../../../server/capture/queued-stream.js';
import { Database } from '../../../server/database.js';
import { simulationOptions } from '../../../server/options.js';
import { SHARED_REDIS_URL, randomPrefix } from './bullmq-jobs.js';
import { waitFor } from './simulation.js';

const redis = new Redis(SHARED_REDIS_URL);
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});
afterAll(() => redis.disconnect());

async function entries(prefix: string): Promise<QueuedStreamEntry[]> {
  const raw = await redis.xrange(queuedStreamKey(prefix), '-', '+');
  return raw.map(([, fields]) => JSON.parse(fields[fields.indexOf(STREAM_FIELD) + 1]!) as QueuedStreamEntry);
}

describe('QueuedStream', () => {
  it('publishes accepted delays with who asked, before the next tick-end that counts them', async () => {
    const prefix = randomPrefix();
    const db = new Database(simulationOptions({ seed: 'stream-delays', probabilityScale: 20 }));
    const stream = new QueuedStream(
      db.hooks,
      { redisUrl: SHARED_REDIS_URL, prefix, maxLen: 10_000, backoffMinMs: 50, backoffMaxMs: 500, statsPollMs: 1000 },
      silentLogger,
    );
    cleanup = async () => {
      await stream.close();
      await redis.del(queuedStreamKey(prefix));
    };
    await waitFor(() => stream.stats().redis === 'connected', 5000, 'the stream connects');
    db.tick();
    stream.endTick(db.currentTick - 1);
    const first = db.queued().map((i) => i.execution.id);
    db.delay(first[0]!, 600, 'alice');
    db.delay(first[1]!, -1); // a client that names nobody
    db.delay(first[0]!, 3, 'scheduler');
    db.tick();
    stream.endTick(db.currentTick - 1);
    await waitFor(() => stream.stats().publishedTicks === 2, 5000, 'both ticks are published');

    const all = await entries(prefix);
    const firstEnd = all.findIndex((e) => e.type === 'tick-end');
    const second = all.slice(firstEnd + 1);
    expect(second.slice(0, 3)).toEqual([
      expect.objectContaining({ type: 'delayed', executionId: first[0], by: 'alice', appliedDelay: 600 }),
      expect.objectContaining({ type: 'delayed', executionId: first[1], by: null, requestedDelay: -1 }),
      expect.objectContaining({ type: 'delayed', executionId: first[0], by: 'scheduler', appliedDelay: 3 }),
    ]);
    const queued = second.filter((e) => e.type === 'queued');
    expect(queued.length).toBeGreaterThan(0);
    expect(second.at(-1)).toMatchObject({ type: 'tick-end', queued: queued.length, delayed: 3 });
    expect(all[firstEnd]).toMatchObject({ type: 'tick-end', delayed: 0 });
  });
});
