/**
 * The server killed at any moment loses no record of a completed tick: in-process (an outbox
 * abandoned with a torn last line) and with a real child process killed by SIGKILL while ticking.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../../common/contracts.js';
import { startCapture } from '../../../server/capture/capture.js';
import { Outbox } from '../../../server/capture/outbox.js';
import { Database } from '../../../server/database.js';
import { simulationOptions } from '../../../server/options.js';
import { JobReader, SHARED_REDIS, SHARED_REDIS_URL, randomPrefix } from './bullmq-jobs.js';
import { expectExecutionJobs, expectWindowJobs, recordedRun, sleep, waitFor } from './simulation.js';

const CHILD = fileURLToPath(new URL('./fixtures/tick-child.ts', import.meta.url));

let dir: string;
let prefix: string;
let reader: JobReader;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-crash-'));
  prefix = randomPrefix();
  reader = new JobReader(SHARED_REDIS_URL, prefix);
});
afterEach(async () => {
  await reader.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A database that is never ticked: the restarted process only relays what is on disk. */
const idleDatabase = () => new Database(simulationOptions({ seed: 'idle' }));

describe('crash recovery', () => {
  it('relays every committed record after an abandoned outbox with a torn line, and not the torn line', async () => {
    const { db, executed, windows } = recordedRun('crash-in-process');
    const outbox = Outbox.open({ dir, segmentBytes: 32 * 1024 });
    db.hooks.executed.add((e) => outbox.append(e));
    db.hooks.window.add((w) => outbox.append(w));
    for (let i = 0; i < 300; i++) {
      db.tick();
      outbox.commit();
    }
    // The kill: no close, no flush, and a write cut off in the middle of a line.
    const segments = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort();
    expect(segments.length).toBeGreaterThan(2);
    const torn =
      '{"at":1,"record":{"type":"executed","executionId":"ffffffff-ffff-4fff-8fff-ffffffffffff","queryId":"1';
    fs.appendFileSync(path.join(dir, segments.at(-1)!), torn);
    // A killed process leaves its lock behind, naming a process that no longer exists; this one
    // still lives, so drop the lock as its death would have made it stale (taking over a really
    // stale lock is dir-lock.test.ts's and main.test.ts's subject).
    fs.rmSync(path.join(dir, 'outbox.lock'));

    const capture = startCapture({ db: idleDatabase(), outboxDir: dir, ...SHARED_REDIS, prefix });
    expect(capture.stats().outbox).toMatchObject({
      recoveredRecords: executed.length + windows.length,
      truncatedBytes: torn.length,
    });
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the recovered outbox to drain');
    await capture.close();
    expectExecutionJobs(await reader.jobs(QUEUE_EXECUTIONS), executed);
    expectWindowJobs(await reader.jobs(QUEUE_METRICS), windows);
  });

  it('a process killed with SIGKILL while ticking loses no record of a completed tick', async () => {
    const seed = 'crash-child';
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, SHARED_REDIS_URL, prefix, seed], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    await waitFor(() => out.split('\n').length > 400, 20_000, 'the child to tick');
    await sleep(Math.random() * 200);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const completed = Math.max(...out.split('\n').filter(Boolean).map(Number));
    expect(completed).toBeGreaterThan(400);

    // What the database did: the same seed replayed, for the completed ticks and the one after
    // (it may have been committed without being printed).
    const replay = recordedRun(seed);
    replay.db.run(completed);
    const mustHave = { executed: [...replay.executed], windows: [...replay.windows] };
    replay.db.tick();

    // The child had relayed part of its records (it persisted a position) before it was killed.
    expect(fs.existsSync(path.join(dir, 'position.json'))).toBe(true);
    const capture = startCapture({ db: idleDatabase(), outboxDir: dir, ...SHARED_REDIS, prefix });
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain after the restart');
    await capture.close();

    const executions = await reader.jobs(QUEUE_EXECUTIONS);
    const metrics = await reader.jobs(QUEUE_METRICS);
    // Every record of a completed tick is there, and nothing the database did not do.
    const has = new Set(executions.map((j) => j.id));
    for (const e of mustHave.executed) expect(has.has(e.executionId), `execution of tick ${e.executedTick}`).toBe(true);
    const extra = executions.length - mustHave.executed.length;
    expect(extra).toBeGreaterThanOrEqual(0);
    expectExecutionJobs(executions, replay.executed.slice(0, executions.length));
    expectWindowJobs(metrics, replay.windows.slice(0, metrics.length));
    expect(metrics.length).toBeGreaterThanOrEqual(mustHave.windows.length);
  });
});
