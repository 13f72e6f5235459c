/**
 * A simulated database whose executed and window events are also recorded by the test, so what
 * reached BullMQ can be compared with what the database really did.
 */
import { expect } from 'vitest';
import { executionJobId, windowJobId, type ExecutedEvent, type WindowEvent } from '../../../common/contracts.js';
import { Database } from '../../../server/database.js';
import { simulationOptions } from '../../../server/options.js';
import type { StoredJob } from './bullmq-jobs.js';

export function recordedRun(seed: string, probabilityScale = 10) {
  const db = new Database(simulationOptions({ seed, probabilityScale }));
  const executed: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  db.hooks.executed.add((e) => executed.push(e));
  db.hooks.window.add((w) => windows.push(w));
  return { db, executed, windows };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Each expected execution is exactly one job, with its execution id as job id and itself as data. */
export function expectExecutionJobs(jobs: StoredJob[], expected: ExecutedEvent[]): void {
  expect(expected.length).toBeGreaterThan(0);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  expect(byId.size).toBe(jobs.length);
  expect(jobs.length).toBe(expected.length);
  for (const e of expected) {
    const job = byId.get(executionJobId(e));
    if (!job) throw new Error(`execution ${e.executionId} (tick ${e.executedTick}) is not in BullMQ`);
    expect(job.data).toEqual(e);
  }
}

export function expectWindowJobs(jobs: StoredJob[], expected: WindowEvent[]): void {
  expect(expected.length).toBeGreaterThan(0);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  expect(byId.size).toBe(jobs.length);
  expect(jobs.length).toBe(expected.length);
  for (const w of expected) {
    const job = byId.get(windowJobId(w));
    if (!job) throw new Error(`window ${w.windowId} is not in BullMQ`);
    expect(job.data).toEqual(w);
  }
}
