import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WindowEvent } from '../../../common/contracts.js';
import { OutboxAckOrderError, OutboxClosedError, OutboxLockedError } from '../../../server/capture/errors.js';
import type { OutboxBatch, OutboxRecord } from '../../../server/capture/outbox-batch.js';
import { Outbox } from '../../../server/capture/outbox.js';
import { execution } from './records.js';

function window(id: number): WindowEvent {
  const r = { average: 5, min: 1, max: 9 };
  return {
    type: 'window',
    windowId: id,
    firstTick: id * 10,
    lastTick: id * 10 + 9,
    samples: 10,
    cpu: r,
    io: r,
    memory: r,
    timestamp: 5,
  };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const segmentFiles = () =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
const lastSegment = () => path.join(dir, segmentFiles().at(-1)!);
/**
 * An outbox abandoned as by a killed process: its lock would name a dead process, but this one
 * lives on, so the lock is dropped (taking over a really stale lock: dir-lock.test.ts).
 */
const abandon = () => fs.rmSync(path.join(dir, 'outbox.lock'));

/** Commits `n` records per tick for `ticks` ticks, numbering executions from `start`. */
function fill(outbox: Outbox, start: number, ticks: number, n: number): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  for (let t = 0; t < ticks; t++) {
    for (let i = 0; i < n; i++) out.push(execution(start + t * n + i));
    out.push(window(start + t));
    for (const r of out.slice(-(n + 1))) outbox.append(r);
    outbox.commit();
  }
  return out;
}

/** Reads and acknowledges everything committed, in batches of `size`. */
async function drain(outbox: Outbox, size = 7): Promise<{ records: OutboxRecord[]; batches: OutboxBatch[] }> {
  const records: OutboxRecord[] = [];
  const batches: OutboxBatch[] = [];
  for (;;) {
    const b = await outbox.read(size);
    if (b.lines === 0 && b.from.segment === b.to.segment) break;
    records.push(...b.records);
    batches.push(b);
    await outbox.ack(b);
  }
  return { records, batches };
}

describe('Outbox', () => {
  it('makes committed records readable in order, and only committed ones', async () => {
    const outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(outbox, 0, 3, 4);
    outbox.append(execution(999));
    expect(outbox.uncommitted).toBe(1);
    expect(outbox.stats().pendingRecords).toBe(written.length);
    const { records } = await drain(outbox);
    expect(records).toEqual(written);
    expect(outbox.stats()).toMatchObject({
      pendingRecords: 0,
      pendingBytes: 0,
      oldestPendingAt: null,
      ackedTotal: written.length,
    });
    outbox.close();
  });

  it('writes each committed record as one JSON line with its append time', () => {
    const outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const before = Date.now();
    outbox.append(execution(1));
    outbox.append(window(2));
    outbox.commit();
    const lines = fs.readFileSync(lastSegment(), 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const first = JSON.parse(lines[0]!) as { at: number; record: unknown };
    expect(first.record).toEqual(execution(1));
    expect(first.at).toBeGreaterThanOrEqual(before);
    expect(JSON.parse(lines[1]!)).toEqual({ at: first.at, record: window(2) });
    outbox.close();
  });

  it('persists the acknowledged position and resumes from it after a reopen', async () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(a, 0, 4, 5);
    const first = await a.read(10);
    await a.ack(first);
    a.close();
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'position.json'), 'utf8')) as {
      segment: number;
      offset: number;
    };
    expect(saved).toMatchObject(first.to);
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect(b.stats().recoveredRecords).toBe(written.length - 10);
    const { records } = await drain(b);
    expect(records).toEqual(written.slice(10));
    b.close();
  });

  it('rotates segments by size and deletes them once fully acknowledged', async () => {
    const outbox = Outbox.open({ dir, segmentBytes: 4096 });
    const written = fill(outbox, 0, 40, 5);
    expect(segmentFiles().length).toBeGreaterThan(5);
    const { records } = await drain(outbox, 50);
    expect(records).toEqual(written);
    expect(segmentFiles()).toHaveLength(1);
    expect(outbox.stats().segments).toBe(1);
    outbox.close();
  });

  it('recovers after a crash: a torn last line is cut off, every committed record is found', async () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(a, 0, 5, 3);
    // Abandoned without close (the process was killed), in the middle of writing a line.
    const torn = `{"at":${Date.now()},"record":{"type":"executed","executionId":"0000`;
    fs.appendFileSync(lastSegment(), torn);
    abandon();
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect(b.stats().truncatedBytes).toBe(torn.length);
    expect(b.stats().recoveredRecords).toBe(written.length);
    const { records, batches } = await drain(b);
    expect(records).toEqual(written);
    expect(batches.flatMap((x) => x.invalid)).toEqual([]);
    // New records go to a fresh segment, after the recovered ones.
    fill(b, 100, 1, 2);
    expect((await drain(b)).records).toHaveLength(3);
    b.close();
  });

  it('cuts a zero-filled tail left by a crash', async () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(a, 0, 2, 3);
    fs.appendFileSync(lastSegment(), Buffer.alloc(3000));
    abandon();
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect(b.stats().truncatedBytes).toBe(3000);
    expect((await drain(b)).records).toEqual(written);
    b.close();
  });

  it('reports a complete but invalid line with its position and reason, and keeps going', async () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    a.append(execution(1));
    a.commit();
    fs.appendFileSync(lastSegment(), '{"at":1,"record":{"type":"bogus"}}\nnot json\n');
    a.close();
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    b.append(execution(2));
    b.commit();
    const batch = await b.read(100);
    expect(batch.records).toEqual([execution(1)]);
    expect(batch.invalid.map((x) => x.reason)).toEqual([
      'unknown record type "bogus"',
      expect.stringMatching(/^not JSON/),
    ]);
    expect(batch.invalid[0]!.position.offset).toBeGreaterThan(0);
    await b.ack(batch);
    expect((await drain(b)).records).toEqual([execution(2)]);
    b.close();
  });

  it('re-reads everything when the position file is unreadable', async () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(a, 0, 2, 2);
    await a.ack(await a.read(3));
    a.close();
    fs.writeFileSync(path.join(dir, 'position.json'), '{"segm');
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect((await drain(b)).records).toEqual(written);
    b.close();
  });

  it('refuses to acknowledge out of order, and rewinds to the acknowledged position', async () => {
    const outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const written = fill(outbox, 0, 2, 5);
    const first = await outbox.read(4);
    const second = await outbox.read(4);
    await expect(outbox.ack(second)).rejects.toBeInstanceOf(OutboxAckOrderError);
    expect(outbox.stats().pendingRecords).toBe(written.length);
    outbox.rewind();
    const again = await outbox.read(4);
    expect(again.records).toEqual(first.records);
    await outbox.ack(again);
    expect((await drain(outbox)).records).toEqual(written.slice(4));
    outbox.close();
  });

  it('tracks the append time of the oldest unacknowledged record', async () => {
    const outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
    const t0 = Date.now();
    fill(outbox, 0, 1, 2);
    expect(outbox.stats().oldestPendingAt).toBeGreaterThanOrEqual(t0);
    await drain(outbox);
    expect(outbox.stats().oldestPendingAt).toBeNull();
    outbox.close();
  });

  it('commits on close and refuses appends afterwards', () => {
    const a = Outbox.open({ dir, segmentBytes: 1 << 20 });
    a.append(execution(1));
    a.close();
    expect(() => a.append(execution(2))).toThrow(OutboxClosedError);
    const b = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect(b.stats().recoveredRecords).toBe(1);
    b.close();
  });

  it('refuses a directory held by another live process, and takes over from a dead one', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(path.join(dir, 'outbox.lock'), String(holder.pid));
      expect(() => Outbox.open({ dir, segmentBytes: 1 << 20 })).toThrow(OutboxLockedError);
    } finally {
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
    }
    const outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'outbox.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    expect(() => Outbox.open({ dir, segmentBytes: 1 << 20 })).toThrow(OutboxLockedError); // one writer, even here
    outbox.close();
    expect(fs.existsSync(path.join(dir, 'outbox.lock'))).toBe(false);
  });
});
