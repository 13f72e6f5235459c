/**
 * The relay's acknowledgement discipline, with a scripted sink in place of BullMQ: records leave
 * the outbox only after the send that carried them resolved, in order, whatever fails meanwhile.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutedEvent } from '../../../common/contracts.js';
import { silentLogger } from '../../../common/logger.js';
import type { SendResult } from '../../../server/capture/bullmq-sink.js';
import type { OutboxBatch, OutboxRecord } from '../../../server/capture/outbox-batch.js';
import { Outbox } from '../../../server/capture/outbox.js';
import { Relay, type RelayOptions } from '../../../server/capture/relay.js';
import { sleep, waitFor } from './simulation.js';
import { execution } from './records.js';

/** A sink whose sends the test settles by hand (or automatically once `auto` is set). */
class ScriptedSink {
  calls: { batch: OutboxBatch; resolve: () => void; reject: (e: Error) => void }[] = [];
  delivered: OutboxRecord[] = [];
  auto = false;
  send(batch: OutboxBatch): Promise<SendResult> {
    if (this.auto) {
      this.delivered.push(...batch.records);
      return Promise.resolve({ executions: batch.records.length, windows: 0, deadLetters: 0 });
    }
    return new Promise((resolve, reject) => {
      this.calls.push({
        batch,
        resolve: () => {
          this.delivered.push(...batch.records);
          resolve({ executions: batch.records.length, windows: 0, deadLetters: 0 });
        },
        reject,
      });
    });
  }
}

const link = {
  ready: true,
  resets: 0,
  reset() {
    this.resets++;
  },
};
const options: RelayOptions = {
  batchSize: 10,
  concurrency: 2,
  backoffMinMs: 10,
  backoffMaxMs: 50,
  sendTimeoutMs: 5_000,
};

let dir: string;
let outbox: Outbox;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-test-'));
  outbox = Outbox.open({ dir, segmentBytes: 1 << 20 });
  link.ready = true;
  link.resets = 0;
});
afterEach(() => {
  outbox.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function commit(from: number, n: number): OutboxRecord[] {
  const records = Array.from({ length: n }, (_, i) => execution(from + i));
  for (const r of records) outbox.append(r);
  outbox.commit();
  return records;
}

const positionFile = () => path.join(dir, 'position.json');

describe('Relay', () => {
  it('removes records from the outbox only after the send resolved', async () => {
    const sink = new ScriptedSink();
    const relay = new Relay(outbox, link, sink, { ...options, concurrency: 1 }, silentLogger);
    const written = commit(0, 5);
    relay.start();
    await waitFor(() => sink.calls.length === 1, 2000, 'the first send');
    await sleep(100);
    expect(outbox.stats().pendingRecords).toBe(5);
    expect(fs.existsSync(positionFile())).toBe(false);
    sink.calls[0]!.resolve();
    await waitFor(() => outbox.stats().pendingRecords === 0, 2000, 'the acknowledgement');
    expect(fs.existsSync(positionFile())).toBe(true);
    expect(sink.delivered).toEqual(written);
    expect(relay.stats().relayed.executions).toBe(5);
    await relay.stop(1000);
  });

  it('sends a failed batch again and loses nothing', async () => {
    const sink = new ScriptedSink();
    const relay = new Relay(outbox, link, sink, options, silentLogger);
    const written = commit(0, 25);
    relay.start();
    await waitFor(() => sink.calls.length >= 1, 2000, 'the first send');
    sink.auto = true;
    sink.calls[0]!.reject(new Error('Connection is closed.'));
    // The batch read ahead is in flight too; it succeeds, but is re-sent after the failed one.
    await waitFor(() => sink.calls.length === 2, 2000, 'the second send');
    sink.calls[1]!.resolve();
    await waitFor(() => outbox.stats().pendingRecords === 0, 5000, 'the retry');
    expect(new Set(sink.delivered.map((r) => (r as ExecutedEvent).executionId))).toEqual(
      new Set(written.map((r) => (r as ExecutedEvent).executionId)),
    );
    expect(relay.stats().failures).toBe(1);
    expect(relay.stats().lastError).toBe('Connection is closed.');
    await relay.stop(1000);
  });

  it('acknowledges in order: a later batch that succeeded does not move past an earlier one', async () => {
    const sink = new ScriptedSink();
    const relay = new Relay(outbox, link, sink, options, silentLogger);
    const written = commit(0, 30);
    relay.start();
    await waitFor(() => sink.calls.length === 2, 2000, 'two batches in flight');
    sink.calls[1]!.resolve();
    await sleep(100);
    expect(outbox.stats().pendingRecords).toBe(30);
    expect(fs.existsSync(positionFile())).toBe(false);
    sink.calls[0]!.reject(new Error('boom'));
    sink.auto = true;
    await waitFor(() => outbox.stats().pendingRecords === 0, 5000, 'the re-send');
    // The first 10 records reached the sink only through the re-send after the failure.
    const ids = sink.delivered.map((r) => (r as ExecutedEvent).executionId);
    for (const r of written) expect(ids).toContain((r as ExecutedEvent).executionId);
    await relay.stop(1000);
  });

  it('does not send while Redis is not ready, and drains once it is', async () => {
    const sink = new ScriptedSink();
    sink.auto = true;
    link.ready = false;
    const relay = new Relay(outbox, link, sink, options, silentLogger);
    commit(0, 12);
    relay.start();
    await sleep(150);
    expect(sink.delivered).toHaveLength(0);
    expect(relay.stats().state).toBe('waiting-for-redis');
    expect(relay.stats().lagRecords).toBe(12);
    expect(relay.stats().lagMs).toBeGreaterThanOrEqual(100);
    link.ready = true;
    relay.redisReady();
    await waitFor(() => outbox.stats().pendingRecords === 0, 2000, 'the drain');
    expect(relay.stats().lagMs).toBe(0);
    await relay.stop(1000);
  });

  it('gives up on a send Redis never answers, resets the connection and sends again', async () => {
    const sink = new ScriptedSink();
    const relay = new Relay(outbox, link, sink, { ...options, sendTimeoutMs: 100 }, silentLogger);
    commit(0, 5);
    relay.start();
    await waitFor(() => sink.calls.length === 1, 2000, 'the first send');
    await waitFor(() => link.resets === 1, 2000, 'the connection reset');
    expect(outbox.stats().pendingRecords).toBe(5);
    sink.auto = true;
    await waitFor(() => outbox.stats().pendingRecords === 0, 2000, 'the re-send');
    expect(relay.stats().lastError).toMatch(/did not acknowledge/);
    await relay.stop(1000);
  });

  it('on stop, sends what it can within the drain timeout and leaves the rest on disk', async () => {
    const sink = new ScriptedSink();
    const relay = new Relay(outbox, link, sink, options, silentLogger);
    commit(0, 5);
    relay.start();
    await waitFor(() => sink.calls.length === 1, 2000, 'the first send');
    const t0 = Date.now();
    const { drained } = await relay.stop(200);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(drained).toBe(false);
    expect(relay.stats().state).toBe('stopped');
    expect(outbox.stats().pendingRecords).toBe(5);
  });

  it('on stop with everything sent, returns at once', async () => {
    const sink = new ScriptedSink();
    sink.auto = true;
    const relay = new Relay(outbox, link, sink, options, silentLogger);
    commit(0, 5);
    relay.start();
    await waitFor(() => outbox.stats().pendingRecords === 0, 2000, 'the drain');
    const t0 = Date.now();
    expect(await relay.stop(5000)).toEqual({ drained: true });
    expect(Date.now() - t0).toBeLessThan(500);
  });
});
