import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { Batcher, type BatcherOptions, type Outcome } from '../../ingest/index.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
const cannotParse = () => new ClickHouseError({ message: 'Cannot parse uuid', code: '376', type: 'CANNOT_PARSE_UUID' });
const strange = () => new ClickHouseError({ message: 'something odd', code: '1001', type: 'STD_EXCEPTION' });

interface Harness {
  batcher: Batcher<number>;
  batches: number[][];
  rejected: { item: number; reason: string }[];
}

function harness(
  overrides: Partial<BatcherOptions<number>> & { fail?: (items: readonly number[]) => Error | undefined } = {},
): Harness {
  const batches: number[][] = [];
  const rejected: { item: number; reason: string }[] = [];
  const { fail, ...rest } = overrides;
  const batcher = new Batcher<number>({
    name: 'test',
    maxSize: 100,
    flushMs: 20,
    insertConcurrency: 1,
    retry: { baseMs: 1, maxMs: 5, maxAttempts: 3 },
    store: async (items) => {
      await Promise.resolve();
      const error = fail?.(items);
      if (error) throw error;
      batches.push([...items]);
    },
    reject: async (item, reason) => {
      await Promise.resolve();
      rejected.push({ item, reason });
    },
    logger: silentLogger,
    random: () => 0.5,
    ...rest,
  });
  return { batcher, batches, rejected };
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('Batcher', () => {
  it('flushes a full batch at once, without waiting for the timer', async () => {
    const { batcher, batches } = harness({ maxSize: 10, flushMs: 60_000 });
    const outcomes = await Promise.all(range(30).map((i) => batcher.add(i)));
    expect(outcomes).toEqual(range(30).map(() => 'stored'));
    expect(batches).toEqual([range(10), range(10, 10), range(10, 20)]);
    expect(batcher.stats()).toMatchObject({ received: 30, stored: 30, batches: 3, pending: 0 });
  });

  it('flushes a partial batch after flushMs', async () => {
    const { batcher, batches } = harness({ maxSize: 1000, flushMs: 30 });
    const started = performance.now();
    await Promise.all(range(5).map((i) => batcher.add(i)));
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(batches).toEqual([range(5)]);
  });

  it('resolves a record only after its batch is stored', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = harness({ maxSize: 2, store: () => gate });
    let settled: Outcome | undefined;
    void h.batcher.add(1).then((o) => (settled = o));
    void h.batcher.add(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBeUndefined();
    expect(h.batcher.stats().pending).toBe(2);
    release();
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe('stored');
  });

  it('retries a transient failure with backoff until it succeeds, storing each record once', async () => {
    let calls = 0;
    const h = harness({ maxSize: 50, fail: () => (++calls <= 4 ? refused() : undefined) });
    const outcomes = await Promise.all(range(50).map((i) => h.batcher.add(i)));
    expect(outcomes.every((o) => o === 'stored')).toBe(true);
    expect(h.batches).toEqual([range(50)]);
    expect(h.batcher.stats()).toMatchObject({ retries: 4, stored: 50, deadLettered: 0, failing: false });
    expect(h.rejected).toEqual([]);
  });

  it('never dead-letters on transient failures, however many', async () => {
    let calls = 0;
    const h = harness({
      maxSize: 4,
      retry: { baseMs: 1, maxMs: 1, maxAttempts: 2 },
      fail: () => (++calls <= 30 ? refused() : undefined),
    });
    await Promise.all(range(4).map((i) => h.batcher.add(i)));
    expect(h.rejected).toEqual([]);
    expect(h.batcher.stats()).toMatchObject({ retries: 30, stored: 4 });
  });

  it('isolates a record that ClickHouse refuses: the rest are stored, the culprit dead-lettered', async () => {
    const h = harness({ maxSize: 64, fail: (items) => (items.includes(37) ? cannotParse() : undefined) });
    const outcomes = await Promise.all(range(64).map((i) => h.batcher.add(i)));
    expect(outcomes[37]).toBe('dead-lettered');
    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(63);
    expect(h.batches.flat().sort((a, b) => a - b)).toEqual(range(64).filter((i) => i !== 37));
    expect(h.rejected).toEqual([{ item: 37, reason: 'CANNOT_PARSE_UUID: Cannot parse uuid' }]);
    // Bisection: about log2(64) refused inserts, not 64.
    expect(h.batches.length).toBeLessThanOrEqual(8);
  });

  it('treats an unknown ClickHouse error as permanent after maxAttempts', async () => {
    let attemptsWith5 = 0;
    const h = harness({
      maxSize: 8,
      fail: (items) => {
        if (!items.includes(5)) return undefined;
        attemptsWith5++;
        return strange();
      },
    });
    const outcomes = await Promise.all(range(8).map((i) => h.batcher.add(i)));
    expect(outcomes[5]).toBe('dead-lettered');
    expect(h.rejected.map((r) => r.item)).toEqual([5]);
    expect(h.batcher.stats().retries).toBe(2);
    // 3 attempts at the whole batch, then one at each level of the bisection (4, 2, 1).
    expect(attemptsWith5).toBe(3 + 3);
  });

  it('keeps trying to dead-letter while the dead-letter queue is unreachable', async () => {
    let rejectCalls = 0;
    const h = harness({
      maxSize: 2,
      fail: (items) => (items.includes(1) ? cannotParse() : undefined),
      reject: async () => {
        await Promise.resolve();
        if (++rejectCalls <= 3) throw refused();
      },
    });
    expect(await Promise.all([h.batcher.add(1), h.batcher.add(2)])).toEqual(['dead-lettered', 'stored']);
    expect(rejectCalls).toBe(4);
    expect(h.batcher.stats()).toMatchObject({ deadLettered: 1, stored: 1, pending: 0 });
  });

  it('dead-letters a rejected record without inserting it', async () => {
    const h = harness();
    expect(await h.batcher.reject(9, 'invalid record: x')).toBe('dead-lettered');
    expect(h.rejected).toEqual([{ item: 9, reason: 'invalid record: x' }]);
    expect(h.batches).toEqual([]);
  });

  it('limits inserts in flight to insertConcurrency', async () => {
    let inFlight = 0;
    let most = 0;
    const h = harness({
      maxSize: 5,
      insertConcurrency: 2,
      store: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
      },
    });
    await Promise.all(range(40).map((i) => h.batcher.add(i)));
    expect(most).toBe(2);
  });

  it('drain stores what is pending at once, and whatever arrives while draining', async () => {
    const h = harness({ maxSize: 1000, flushMs: 60_000 });
    const first = range(10).map((i) => h.batcher.add(i));
    const draining = h.batcher.drain(5_000);
    const late = h.batcher.add(99);
    expect(await draining).toBe(true);
    expect(await Promise.all([...first, late])).toEqual(range(11).map(() => 'stored'));
    expect(h.batches.flat()).toEqual([...range(10), 99]);
  });

  it('drain gives up after its timeout; abandon leaves records unsettled and stops retrying', async () => {
    let calls = 0;
    const h = harness({
      maxSize: 3,
      fail: () => {
        calls++;
        return refused();
      },
    });
    let settled = false;
    for (const i of range(3)) void h.batcher.add(i).then(() => (settled = true));
    expect(await h.batcher.drain(50)).toBe(false);
    expect(h.batcher.abandon()).toBe(3);
    const callsAtAbandon = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBeLessThanOrEqual(callsAtAbandon + 1);
    expect(settled).toBe(false);
    expect(h.batches).toEqual([]);
  });
});

/** What ClickHouse answers when the table lost a column the rows carry (a real message, see worker tests). */
const unknownField = () =>
  new ClickHouseError({
    message: 'Unknown field found while parsing JSONEachRow format: delayed_by: (at row 1)',
    code: '117',
    type: 'INCORRECT_DATA',
  });

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('Batcher: a systematic refusal is not a poisoned record', () => {
  it('holds every record while ClickHouse refuses them all, at three inserts per retry, then stores each once', async () => {
    let broken = true;
    const sizes: number[] = [];
    const h = harness({
      maxSize: 64,
      fail: (items) => {
        sizes.push(items.length);
        return broken ? unknownField() : undefined;
      },
    });
    const outcomes = Promise.all(range(64).map((i) => h.batcher.add(i)));
    await until(() => h.batcher.stats().retries >= 5, 'five retries');
    expect(h.rejected).toEqual([]);
    expect(h.batcher.stats()).toMatchObject({ stored: 0, deadLettered: 0, pending: 64, failing: true });
    expect(h.batcher.stats().failure).toMatchObject({
      kind: 'systematic',
      reason: 'INCORRECT_DATA: Unknown field found while parsing JSONEachRow format: delayed_by: (at row 1)',
    });
    // Every retry is the whole batch and its two halves: never bisected further.
    expect(Math.min(...sizes)).toBe(32);
    expect(sizes.length).toBeLessThanOrEqual(3 * (h.batcher.stats().retries + 1));
    broken = false;
    expect(await outcomes).toEqual(range(64).map(() => 'stored'));
    expect(h.batches.flat().sort((a, b) => a - b)).toEqual(range(64));
    expect(h.batcher.stats()).toMatchObject({ stored: 64, deadLettered: 0, pending: 0, held: 0, failure: null });
  });

  it('an unrecognized error that refuses everything: maxAttempts in place once, then three inserts per retry', async () => {
    const sizes: number[] = [];
    const h = harness({
      maxSize: 8,
      fail: (items) => {
        sizes.push(items.length);
        return strange();
      },
    });
    for (const i of range(8)) void h.batcher.add(i);
    await until(() => sizes.length >= 5 + 3 * 3, 'three held retries');
    // 3 attempts (maxAttempts) at the batch, its two halves; then the batch and its halves per retry.
    expect(sizes.slice(0, 14)).toEqual([8, 8, 8, 4, 4, 8, 4, 4, 8, 4, 4, 8, 4, 4]);
    expect(h.rejected).toEqual([]);
    expect(h.batcher.stats().failure?.kind).toBe('systematic');
    h.batcher.abandon();
  });

  it('holds records that come one per batch, where no split can tell', async () => {
    let broken = true;
    const h = harness({ maxSize: 1, insertConcurrency: 2, fail: () => (broken ? unknownField() : undefined) });
    const outcomes = Promise.all(range(10).map((i) => h.batcher.add(i)));
    await until(() => h.batcher.stats().retries >= 30, 'thirty retries');
    expect(h.rejected).toEqual([]);
    expect(h.batcher.stats()).toMatchObject({ stored: 0, pending: 10, failure: { kind: 'systematic' } });
    broken = false;
    expect(await outcomes).toEqual(range(10).map(() => 'stored'));
    expect(h.batches.flat().sort((a, b) => a - b)).toEqual(range(10));
  });

  it('dead-letters a record alone in its batch once the records after it are stored', async () => {
    // One insert slot: the held record must not block the batches that prove it is the culprit.
    const h = harness({
      maxSize: 1,
      insertConcurrency: 1,
      fail: (items) => (items.includes(0) ? cannotParse() : undefined),
    });
    const bad = h.batcher.add(0);
    await until(() => h.batcher.stats().held === 1, 'the record held');
    expect(h.rejected).toEqual([]);
    const good = Promise.all(range(3, 1).map((i) => h.batcher.add(i)));
    expect(await good).toEqual(['stored', 'stored', 'stored']);
    expect(await bad).toBe('dead-lettered');
    expect(h.rejected).toEqual([{ item: 0, reason: 'CANNOT_PARSE_UUID: Cannot parse uuid' }]);
    expect(h.batcher.stats()).toMatchObject({ stored: 3, deadLettered: 1, pending: 0, failure: null });
  });

  it('dead-letters a held record when the insert that proves it overlapped its next refusal', async () => {
    // The good record's insert starts after the bad one's first refusal and is still running when
    // the bad one is refused again; it succeeds only afterwards. That still proves the table takes
    // records: the bad one was refused before and after that insert started. (Judged only against
    // its previous refusal, the record was held for ever once nothing else arrived.)
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const h = harness({
      maxSize: 1,
      insertConcurrency: 2,
      retry: { baseMs: 10, maxMs: 10, maxAttempts: 3 },
      store: async (items) => {
        await Promise.resolve();
        if (items.includes(0)) throw cannotParse();
        await slow;
      },
    });
    const bad = h.batcher.add(0);
    await until(() => h.batcher.stats().held === 1, 'the record held');
    const good = h.batcher.add(1);
    const retries = h.batcher.stats().retries;
    // Refused again (and held again) while the good insert is still in flight.
    await until(() => h.batcher.stats().retries >= retries + 2, 'two more refusals');
    expect(h.rejected).toEqual([]);
    release();
    expect(await good).toBe('stored');
    expect(await bad).toBe('dead-lettered');
    expect(h.batcher.stats()).toMatchObject({ stored: 1, deadLettered: 1, pending: 0 });
  });

  it('two bad records refused alike, one in each half: held until other records are stored, then only they are dead-lettered', async () => {
    const h = harness({
      maxSize: 8,
      fail: (items) => (items.includes(1) || items.includes(6) ? cannotParse() : undefined),
    });
    const first = Promise.all(range(8).map((i) => h.batcher.add(i)));
    await until(() => h.batcher.stats().held === 8, 'the batch held');
    expect(h.rejected).toEqual([]);
    const more = Promise.all(range(8, 100).map((i) => h.batcher.add(i)));
    expect(await more).toEqual(range(8).map(() => 'stored'));
    const outcomes = await first;
    expect(outcomes.flatMap((o, i) => (o === 'dead-lettered' ? [i] : []))).toEqual([1, 6]);
    expect(h.rejected.map((r) => r.item).sort()).toEqual([1, 6]);
    expect(h.batches.flat().sort((a, b) => a - b)).toEqual([0, 2, 3, 4, 5, 7, ...range(8, 100)]);
  });

  it('dead-letters a poisoned record among good ones at once, without holding anything', async () => {
    const h = harness({ maxSize: 16, fail: (items) => (items.includes(0) ? cannotParse() : undefined) });
    const outcomes = await Promise.all(range(16).map((i) => h.batcher.add(i)));
    expect(outcomes[0]).toBe('dead-lettered');
    expect(h.batcher.stats()).toMatchObject({ retries: 0, stored: 15, deadLettered: 1, failure: null });
  });

  it('drain waits for held records; abandon drops them unsettled and stops retrying', async () => {
    let calls = 0;
    const h = harness({
      maxSize: 4,
      fail: () => {
        calls++;
        return unknownField();
      },
    });
    let settled = false;
    for (const i of range(4)) void h.batcher.add(i).then(() => (settled = true));
    await until(() => h.batcher.stats().held === 4, 'the batch held');
    expect(await h.batcher.drain(50)).toBe(false);
    expect(h.batcher.abandon()).toBe(4);
    const callsAtAbandon = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(callsAtAbandon);
    expect(settled).toBe(false);
    expect(h.rejected).toEqual([]);
  });
});
