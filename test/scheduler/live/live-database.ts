/**
 * Test helpers for the live scheduler: a real-time database with its API and the queued-events
 * stream (the real publisher, on the shared Redis under a unique prefix), recording what it
 * executed; and an estimate source built from the simulator's ground truth.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ExecutedEvent, WindowEvent } from '../../../common/contracts.js';
import { windowInBand } from '../../../common/definitions.js';
import { silentLogger } from '../../../common/logger.js';
import { QueuedStream } from '../../../server/capture/queued-stream.js';
import { DEFAULT_SIMULATION, type SimulationOptions } from '../../../server/options.js';
import { startServer, type RunningServer } from '../../../server/server.js';
import { truthEstimates, type EstimateSource } from '../../../scheduler/estimate-source.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface LiveDatabase {
  server: RunningServer;
  prefix: string;
  executed: ExecutedEvent[];
  windows: WindowEvent[];
  stream: QueuedStream;
  close(): Promise<void>;
}

export async function startLiveDatabase(
  sim: Partial<Omit<SimulationOptions, 'startTick' | 'startTime'>> & { seed: string },
  prefix = `test-sched-${randomUUID().slice(0, 8)}`,
): Promise<LiveDatabase> {
  const executed: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  let stream: QueuedStream | undefined;
  const server = await startServer({
    simulation: { ...DEFAULT_SIMULATION, exposeTruth: true, ...sim },
    port: 0,
    host: '127.0.0.1',
    idleGc: true,
    logger: silentLogger,
    attach: (db) => {
      db.hooks.executed.add((e) => executed.push(e));
      db.hooks.window.add((w) => windows.push(w));
      const s = new QueuedStream(
        db.hooks,
        { redisUrl: REDIS_URL, prefix, maxLen: 100_000, backoffMinMs: 50, backoffMaxMs: 500, statsPollMs: 200 },
        silentLogger,
      );
      stream = s;
      return { afterTick: (tick) => s.endTick(tick), stats: () => ({ scheduler: s.schedulerStats() }) };
    },
  });
  return {
    server,
    prefix,
    executed,
    windows,
    stream: stream!,
    async close() {
      await server.close();
      await stream!.close();
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** The true costs as an estimates version (sd 0): isolates the live machinery from estimation. */
export function truthSource(server: RunningServer): EstimateSource {
  return { load: () => Promise.resolve(truthEstimates(server.db.groundTruth())) };
}

/** Share of windows in band, and the mean of the worst max/avg, over `windows`. */
export function spread(windows: readonly WindowEvent[]) {
  const rs = ['cpu', 'io', 'memory'] as const;
  const loaded = windows.filter((w) => rs.every((r) => w[r].average > 0));
  const inBand = loaded.filter((w) => windowInBand(w));
  const maxAvg = loaded.map((w) => Math.max(...rs.map((r) => w[r].max / w[r].average)));
  return {
    windows: loaded.length,
    inBandRate: loaded.length ? inBand.length / loaded.length : 0,
    maxAvgMean: maxAvg.length ? maxAvg.reduce((a, b) => a + b, 0) / maxAvg.length : 0,
  };
}
