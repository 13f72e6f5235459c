/**
 * Throwaway measurement (issue 3): memory stays flat while Redis is away. Runs the simulated
 * database in real time (100 ms ticks) at probability scale 10 with capture on, against a private
 * redis-server on a free port; stops Redis for `--minutes`, restarts it, waits for the outbox to
 * drain, and prints JSON: RSS before / during / after the outage, the outbox's peak, tick+commit
 * latency per phase, and whether every record reached BullMQ.
 *   npx tsx server/capture/measure-outage.ts [--minutes 5] [--warmup-seconds 30] [--scale 10]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { createRedis } from '../../common/redis-client.js';
import { QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../common/contracts.js';
import { readCommandLine } from '../../common/cli.js';
import { createLogger } from '../../common/logger.js';
import { decimal } from '../../common/settings.js';
import { Database } from '../database.js';
import { simulationOptions } from '../options.js';
import { RealtimeDriver } from '../realtime-driver.js';
import { startCapture } from './capture.js';

const outageSettings = {
  minutes: decimal({ flag: '--minutes', default: 5, above: 0, max: 1440, doc: 'How long Redis stays stopped.' }),
  warmupSeconds: decimal({ flag: '--warmup-seconds', default: 30, min: 0, max: 3600, doc: 'Run before the outage.' }),
  scale: decimal({ flag: '--scale', default: 10, above: 0, max: 1000, doc: 'Probability scale (load).' }),
};
const [values] = readCommandLine(
  { name: 'measure:outage', description: 'Memory and latency while Redis is away.' },
  outageSettings,
);
const outageMs = values.minutes * 60_000;
const warmupMs = values.warmupSeconds * 1000;
const scale = values.scale;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

// A private redis-server: stopping it never disturbs anyone else's Redis.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'measure-outage-'));
const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address() as net.AddressInfo;
    s.close(() => resolve(p));
  });
});
let redisChild: ChildProcess | undefined;
async function startRedis(): Promise<void> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  redisChild = child;
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited: ${out}`)));
  });
}
async function stopRedis(): Promise<void> {
  const child = redisChild!;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // SAVE so the jobs relayed before the outage are still there to be counted afterwards.
  await run('redis-cli', ['-p', String(port), 'shutdown', 'save']);
  await exited;
}

// The disk's own fdatasync latency, for reading tick+commit figures (a commit is one fdatasync).
function probeFdatasync(): number[] {
  const file = path.join(work, 'probe');
  const fd = fs.openSync(file, 'a');
  const buf = Buffer.alloc(4096, 'x');
  const out: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    fs.writeSync(fd, buf);
    fs.fdatasyncSync(fd);
    out.push(performance.now() - t);
  }
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return out;
}
const fsyncProbe = probeFdatasync();

await startRedis();
const redisUrl = `redis://127.0.0.1:${port}`;
const prefix = 'measure';
const logger = createLogger('measure-outage', process.env.LOG_LEVEL ?? 'warn');
const db = new Database(simulationOptions({ seed: 'measure-outage', probabilityScale: scale }));
// The private Redis has no AOF, but is stopped with SHUTDOWN SAVE: it keeps what it acknowledged.
const capture = startCapture({
  db,
  outboxDir: path.join(work, 'outbox'),
  redisUrl,
  prefix,
  logger,
  allowVolatileRedis: true,
});

type Phase = 'warmup' | 'outage' | 'recovery';
let phase: Phase = 'warmup';
const durations: Record<Phase, number[]> = { warmup: [], outage: [], recovery: [] };
const commits: Record<Phase, number[]> = { warmup: [], outage: [], recovery: [] };
/** How late each tick started against its due time (t0 + n·100 ms): what a blocked event loop costs. */
const lateness: Record<Phase, number[]> = { warmup: [], outage: [], recovery: [] };
let t0 = 0;
let n = 0;
const driver = new RealtimeDriver(
  () => {
    const t = performance.now();
    lateness[phase].push(performance.timeOrigin + t - (t0 + n++ * 100));
    db.tick();
    const c = performance.now();
    capture.commit();
    const end = performance.now();
    durations[phase].push(end - t);
    commits[phase].push(end - c);
  },
  { tickMs: 100, onError: (err) => logger.fatal({ err }, 'tick failed') },
);

const rss: Record<Phase, number[]> = { warmup: [], outage: [], recovery: [] };
const peak = { pendingRecords: 0, pendingBytes: 0, segments: 0 };
const sampler = setInterval(() => {
  rss[phase].push(process.memoryUsage.rss());
  const o = capture.stats().outbox;
  peak.pendingRecords = Math.max(peak.pendingRecords, o.pendingRecords);
  peak.pendingBytes = Math.max(peak.pendingBytes, o.pendingBytes);
  peak.segments = Math.max(peak.segments, o.segments);
}, 1000);

t0 = performance.timeOrigin + performance.now();
driver.start(t0);
await sleep(warmupMs);
const rssBefore = process.memoryUsage.rss();
phase = 'outage';
await stopRedis();
await sleep(outageMs);
const rssEndOfOutage = process.memoryUsage.rss();
const atRestart = capture.stats();
phase = 'recovery';
await startRedis();
const restartedAt = Date.now();
while (capture.stats().outbox.pendingRecords > 0) await sleep(100);
const drainMs = Date.now() - restartedAt;
await sleep(5000);
driver.stop();
clearInterval(sampler);
const rssAfter = process.memoryUsage.rss();
const closed = await capture.close();

const connection = createRedis(redisUrl, { maxRetriesPerRequest: null });
const jobs: Record<string, number> = {};
for (const name of [QUEUE_EXECUTIONS, QUEUE_METRICS]) {
  const q = new Queue(name, { connection, prefix });
  jobs[name] = Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0);
  await q.close();
}
await connection.quit();
redisChild?.kill('SIGKILL');
fs.rmSync(work, { recursive: true, force: true });

const pct = (v: number[], q: number) => {
  const s = [...v].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? 0) * 100) / 100;
};
const latency = (v: number[]) => ({ ticks: v.length, p50: pct(v, 0.5), p99: pct(v, 0.99), max: pct(v, 1) });
const dbStats = db.stats();
console.log(
  JSON.stringify(
    {
      outageMinutes: outageMs / 60_000,
      probabilityScale: scale,
      rssMB: {
        beforeOutage: mb(rssBefore),
        duringOutageMax: mb(Math.max(...rss.outage)),
        endOfOutage: mb(rssEndOfOutage),
        after: mb(rssAfter),
        growthDuringOutage: mb(Math.max(...rss.outage) - rssBefore),
      },
      outboxPeak: { records: peak.pendingRecords, MB: mb(peak.pendingBytes), segments: peak.segments },
      atRestart: {
        pendingRecords: atRestart.outbox.pendingRecords,
        lagMs: atRestart.relay.lagMs,
        redis: atRestart.redis.state,
      },
      drainMs,
      tickPlusCommitMs: {
        warmup: latency(durations.warmup),
        outage: latency(durations.outage),
        recovery: latency(durations.recovery),
      },
      commitOnlyMs: {
        warmup: latency(commits.warmup),
        outage: latency(commits.outage),
        recovery: latency(commits.recovery),
      },
      tickLatenessMs: {
        warmup: latency(lateness.warmup),
        outage: latency(lateness.outage),
        recovery: latency(lateness.recovery),
      },
      diskFdatasyncMs: latency(fsyncProbe),
      driverWorstLagMs: Math.round(driver.worstLagMs),
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      complete: {
        executedByDatabase: dbStats.executedTotal,
        executionJobs: jobs[QUEUE_EXECUTIONS],
        windowsByDatabase: dbStats.windowsTotal,
        windowJobs: jobs[QUEUE_METRICS],
        ok:
          jobs[QUEUE_EXECUTIONS] === dbStats.executedTotal &&
          jobs[QUEUE_METRICS] === dbStats.windowsTotal &&
          closed.drained,
      },
    },
    null,
    2,
  ),
);
