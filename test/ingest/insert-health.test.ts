import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { describeInsertFailure, InsertHealth } from '../../ingest/insert-health.js';

/** A real pino logger writing into an array, and a clock the test moves. */
function setup() {
  const lines: { level: number; msg: string; failedAttempts?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  let now = Date.UTC(2026, 0, 1);
  const health = new InsertHealth(pino({ level: 'info' }, sink), { remindEveryMs: 30_000, now: () => now });
  return { lines, health, advance: (ms: number) => (now += ms) };
}

describe('InsertHealth', () => {
  it('logs a failure once when it starts, then at most once per interval, then its end', () => {
    const { lines, health, advance } = setup();
    for (let i = 0; i < 600; i++) {
      health.failed('systematic', 'INCORRECT_DATA: Unknown field', 500, 1000);
      advance(1000); // ten minutes of retries, one a second
    }
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^ClickHouse refuses every record tried/),
      ...Array.from({ length: 19 }, () => 'inserts still failing; retrying'),
    ]);
    // Each reminder counts the attempts since the previous line.
    expect(lines.map((l) => l.failedAttempts)).toEqual([1, ...Array.from({ length: 19 }, () => 30)]);
    expect(health.status()).toMatchObject({ kind: 'systematic', failedAttempts: 600, since: Date.UTC(2026, 0, 1) });
    health.stored();
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: 'inserts recovered', failedAttempts: 600 });
    expect(health.status()).toBeNull();
  });

  it('logs at once when a failure first turns into the other kind, not each time it alternates', () => {
    const { lines, health } = setup();
    health.failed('transient', 'connect ECONNREFUSED', 10, 100);
    health.failed('transient', 'connect ECONNREFUSED', 10, 200);
    health.failed('systematic', 'INCORRECT_DATA: Unknown field', 10, 400);
    for (let i = 0; i < 10; i++) health.failed(i % 2 ? 'systematic' : 'transient', 'x', 10, 400);
    expect(lines.map((l) => l.msg)).toEqual([
      'inserts failing; holding the records and retrying',
      expect.stringMatching(/^ClickHouse refuses every record tried/),
    ]);
    expect(health.status()?.kind).toBe('systematic');
  });

  it('describes a failure in one line for /healthz', () => {
    const { health } = setup();
    health.failed('systematic', 'INCORRECT_DATA: Unknown field', 500, 100);
    expect(describeInsertFailure('executions', health.status()!, 500)).toBe(
      'executions: ClickHouse refuses every record tried (not one bad record; schema changed?) since ' +
        '2026-01-01T00:00:00.000Z, 500 records held and retried: INCORRECT_DATA: Unknown field',
    );
  });
});
