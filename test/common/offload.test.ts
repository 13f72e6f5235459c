/**
 * The offload worker (common/offload.ts) with a table of small tasks (fixtures/offload-tasks.ts):
 * plain data in and out on another thread, typed arrays moved rather than copied, errors from the
 * worker as named errors with their code, a worker that dies replaced at the next task, a closed
 * offload refusing work, and an idle worker never keeping a process alive.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OffloadClosedError,
  OffloadTaskError,
  OffloadWorkerError,
  startOffload,
  type Offload,
} from '../../common/offload.js';

const TASKS = new URL('./fixtures/offload-tasks.ts', import.meta.url);
const opened: Offload[] = [];
const open = () => {
  const o = startOffload({ tasks: TASKS, name: 'offload-test' });
  opened.push(o);
  return o;
};
afterAll(async () => {
  for (const o of opened) await o.close();
});

describe('offload', () => {
  it('runs a named task on another thread and returns its plain-data result', async () => {
    const o = open();
    const out = await o.run<{ input: unknown; threadId: number }>('echo', { a: [1, 'two', null], b: { c: true } });
    expect(out.input).toEqual({ a: [1, 'two', null], b: { c: true } });
    expect(out.threadId).not.toBe(threadId);
    // The worker is kept: a second task runs on the same thread.
    const again = await o.run<{ threadId: number }>('echo', 1);
    expect(again.threadId).toBe(out.threadId);
    expect(o.stats()).toEqual({ done: 2, failed: 0, workers: 1, pending: 0 });
  });

  it('moves typed arrays when asked and returns typed arrays intact', async () => {
    const o = open();
    const input = new Float64Array([1, 2.5, -3]);
    const out = await o.run<Float64Array>('double', input, [input.buffer]);
    expect(out).toBeInstanceOf(Float64Array);
    expect([...out]).toEqual([2, 5, -6]);
    expect(input.byteLength, 'the input buffer was moved, not copied').toBe(0);
    const kept = new Float64Array([4]);
    expect([...(await o.run<Float64Array>('double', kept))]).toEqual([8]);
    expect(kept.byteLength, 'without a transfer list the input is copied').toBe(8);
  });

  it("turns a task's error into OffloadTaskError keeping the original name and code", async () => {
    const o = open();
    const err = await o.run('fail', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadTaskError);
    const e = err as OffloadTaskError;
    expect(e.code).toBe('OFFLOAD_TASK_FAILED');
    expect([e.task, e.remoteName, e.remoteCode]).toEqual(['fail', 'ConfigError', 'CONFIG_INVALID']);
    expect(e.message).toContain('--x = 3: must be even');
    const unknown = (await o.run('no-such-task', null).catch((x: unknown) => x)) as OffloadTaskError;
    expect(unknown.remoteCode).toBe('OFFLOAD_UNKNOWN_TASK');
    // Neither error cost the worker: it still answers.
    expect(o.stats()).toMatchObject({ failed: 2, workers: 1 });
    expect((await o.run<{ input: number }>('echo', 5)).input).toBe(5);
  });

  it('refuses data that cannot cross threads, either way, as OffloadTaskError', async () => {
    const o = open();
    const out = (await o.run('unclonable', null).catch((e: unknown) => e)) as OffloadTaskError;
    expect(out).toBeInstanceOf(OffloadTaskError);
    expect(out.remoteName).toBe('DataCloneError');
    const input = (await o.run('echo', { f: () => 1 }).catch((e: unknown) => e)) as OffloadTaskError;
    expect(input).toBeInstanceOf(OffloadTaskError);
    expect(input.remoteName).toBe('DataCloneError');
    expect(o.stats().pending).toBe(0);
  });

  it('fails the pending task with OffloadWorkerError when the worker dies, and starts a new one for the next', async () => {
    const o = open();
    const first = await o.run<{ threadId: number }>('echo', 0);
    const err = (await o.run('exit', null).catch((e: unknown) => e)) as OffloadWorkerError;
    expect(err).toBeInstanceOf(OffloadWorkerError);
    expect(err.code).toBe('OFFLOAD_WORKER_FAILED');
    expect(err.message).toContain('exit code 7');
    const next = await o.run<{ threadId: number }>('echo', 1);
    expect(next.threadId).not.toBe(first.threadId);
    expect(o.stats().workers).toBe(2);
  });

  it('on close, rejects pending and later tasks with OffloadClosedError', async () => {
    const o = open();
    await o.run('echo', 0); // the worker is up
    const pending = o.run('spin', 5_000).catch((e: unknown) => e);
    const started = performance.now();
    await o.close();
    expect(await pending).toBeInstanceOf(OffloadClosedError);
    // Terminated, not waited for: the 5 s task did not hold the close.
    expect(performance.now() - started).toBeLessThan(3_000);
    const later = (await o.run('echo', 1).catch((e: unknown) => e)) as OffloadClosedError;
    expect(later).toBeInstanceOf(OffloadClosedError);
    expect(later.code).toBe('OFFLOAD_CLOSED');
  });

  it('does not keep a process alive once its tasks are done (no close needed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spike-offload-'));
    const script = join(dir, 'run.mjs');
    const offload = new URL('../../common/offload.ts', import.meta.url).href;
    writeFileSync(
      script,
      `const { startOffload } = await import(${JSON.stringify(offload)});
const o = startOffload({ tasks: new URL(${JSON.stringify(TASKS.href)}), name: 'exit-test' });
const out = await o.run('echo', 'done');
console.log(out.input);\n`,
    );
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { timeout: 20_000 });
    expect(stdout.trim()).toBe('done');
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
