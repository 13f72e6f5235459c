/**
 * `npm run measure:scheduler -- --json [--seconds 60] [--probability-scale K] [--seed S]`: the live
 * scheduler's decision hit rate and decision latency (server publishes the tick's queued events →
 * `/delay` acknowledged), in the compose topology: the server (`server/main.ts`, with capture and
 * the queued stream) as its own process, the scheduler in this one, on the shared Redis under a
 * fresh prefix. The scheduler is given the true costs (from the server's `/truth`), so the figure
 * measures the live machinery; the lab measures scheduling with estimated costs.
 * Also prints the database's own figures over the last minute: in-band rate and added latency.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRedis } from '../common/redis-client.js';
import { readCommandLine } from '../common/cli.js';
import type { TrueQuery } from '../common/contracts.js';
import { createLogger } from '../common/logger.js';
import { redisSettings } from '../common/redis-settings.js';
import { decimal, integer, loadSettings, text, toggle } from '../common/settings.js';
import type { SchedulingFigures } from '../server/scheduling-monitor.js';
import { freePort } from '../common/free-port.js';
import { truthEstimates } from './estimate-source.js';
import { MISSES } from './live-figures.js';
import { policySettings } from './options.js';
import { startScheduler } from './service.js';
import { compileServiceOptions, schedulerServiceSettings } from './service-options.js';

const measureSettings = {
  seconds: integer({
    flag: '--seconds',
    default: 60,
    min: 5,
    max: 86_400,
    doc: 'How long to measure (after warm-up).',
  }),
  warmupSeconds: integer({ flag: '--warmup-seconds', default: 10, min: 0, max: 3600, doc: 'Run before measuring.' }),
  probabilityScale: decimal({ flag: '--probability-scale', default: 1, min: 0, max: 1000, doc: 'Load (SIM).' }),
  seed: text({ flag: '--seed', default: 'measure', maxLength: 200, doc: 'Simulation seed.' }),
  json: toggle({ flag: '--json', default: false, doc: 'Print one JSON object.' }),
};
const [m, redis] = readCommandLine(
  { name: 'measure:scheduler', description: 'Live scheduler hit rate and decision latency.' },
  measureSettings,
  redisSettings,
);

const log = createLogger('measure', 'warn');
const prefix = `measure-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'measure-scheduler-'));
const port = await freePort();
const serverUrl = `http://127.0.0.1:${port}`;
const server = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'server/main.ts',
    '--truth',
    `--port=${port}`,
    `--seed=${m.seed}`,
    `--probability-scale=${m.probabilityScale}`,
    `--data-dir=${dir}`,
    `--redis-url=${redis.redisUrl}`,
    `--redis-prefix=${prefix}`,
    // Throwaway records under this run's own prefix: a volatile (e.g. the shared) Redis is fine.
    '--allow-volatile-redis',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  const truth = await until(async () => {
    const res = await fetch(`${serverUrl}/truth`);
    return res.ok ? ((await res.json()) as { queries: TrueQuery[] }).queries : undefined;
  });
  const { serverUrl: _s, ...service } = loadSettings(schedulerServiceSettings, { flags: {}, env: process.env });
  const scheduler = startScheduler({
    options: { ...compileServiceOptions({ ...service, ...redis, prefix }), serverUrl },
    policy: loadSettings(policySettings, { flags: {}, env: process.env }),
    estimates: { load: () => Promise.resolve(truthEstimates(truth)) },
    logger: log,
  });
  await scheduler.ready;
  await sleep(m.warmupSeconds * 1000);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = scheduler.figures();
  await sleep(m.seconds * 1000);
  const end = scheduler.figures();
  loop.disable();
  const stats = (await (await fetch(`${serverUrl}/stats`)).json()) as {
    scheduling: SchedulingFigures;
    eventLoopDelayMs: { p50: number; p99: number; max: number };
  };
  await scheduler.close();
  const decisions = end.decisions - start.decisions;
  const result = {
    seconds: m.seconds,
    probabilityScale: m.probabilityScale,
    seed: m.seed,
    decisions,
    decisionsPerSecond: Math.round(decisions / m.seconds),
    hitRate: decisions ? (end.hits - start.hits) / decisions : null,
    // Why the others missed (stale tick-ends count: their decisions were intended, not sent).
    misses: Object.fromEntries(MISSES.map((k) => [k, end.misses[k] - start.misses[k]])),
    // Over the most recent decisions (up to 10 000, i.e. the whole measured period at the defaults).
    latencyP50Ms: end.recent.latencyP50Ms,
    latencyP99Ms: end.recent.latencyP99Ms,
    latencyOverDecisions: end.recent.decisions,
    readLagP50Ms: end.readLagP50Ms,
    readLagP99Ms: end.readLagP99Ms,
    // This process's (the scheduler's) event-loop delay: a stall here delays every decision in flight.
    schedulerLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e5) / 10,
    schedulerLoopDelayMaxMs: Math.round(loop.max / 1e5) / 10,
    staleTicks: end.staleTicks - start.staleTicks,
    gaps: end.gaps - start.gaps,
    serverLoopDelayMs: stats.eventLoopDelayMs,
    database: stats.scheduling,
  };
  process.stdout.write(m.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const r = createRedis(redis.redisUrl);
  const keys = await r.keys(`${prefix}:*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

async function until<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error('the server did not come up within 30 s');
}
