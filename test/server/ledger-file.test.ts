import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionLedger } from '../../server/ledger.js';
import { LedgerCorruptError, LedgerWriter, ledgerRange, listLedgers, readLedger } from '../../server/ledger-file.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-file-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const run = (firstTick: number) => ({ firstTick, tickMs: 100, windowTicks: 10, seed: 's', startedAt: 1 });

/** A run of `counts` written through the writer into a fresh directory; returns its file. */
function written(counts: number[], firstTick = 1005, close = true): string {
  const dir = fs.mkdtempSync(path.join(work, 'run-'));
  const w = LedgerWriter.open(dir, run(firstTick));
  counts.forEach((c, i) => w.record(firstTick + i, c));
  if (close) w.close();
  else w.flush();
  return w.file;
}

describe('the execution ledger on disk', () => {
  it('reads back every tick with the same range answers as the in-memory ledger, and the end mark', () => {
    const counts = Array.from({ length: 37 }, (_, i) => (i * 7) % 11);
    const file = written(counts);
    const l = readLedger(file);
    expect(l.run).toMatchObject({ run: '1005', firstTick: 1005, windowTicks: 10 });
    expect(l.counts).toEqual(counts);
    expect(l.ended).toBe(true);
    expect(l.tornTail).toBe(false);
    const memory = new ExecutionLedger(1005, 10);
    counts.forEach((c, i) => memory.record(1005 + i, c));
    for (const [from, to] of [
      [1005, 1041],
      [1000, 1100],
      [1010, 1019],
      [1013, 1027],
    ] as const) {
      expect(ledgerRange(l, from, to), `${from}..${to}`).toEqual(memory.range(from, to));
    }
  });

  it('writes an entry per window without a close: a killed run is covered up to its last whole window', () => {
    const file = written(
      Array.from({ length: 25 }, () => 3),
      2000,
      false,
    );
    const l = readLedger(file);
    expect(l.ended).toBe(false);
    expect(l.counts).toHaveLength(25); // flush() wrote the last 5 too
  });

  it('ignores a last line cut short by a crash, and refuses a bad line before it', () => {
    const file = written(
      Array.from({ length: 30 }, () => 2),
      3000,
      false,
    );
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.slice(0, -7)); // the last entry torn mid-write
    const torn = readLedger(file);
    expect(torn.tornTail).toBe(true);
    expect(torn.counts).toHaveLength(20);

    const lines = text.split('\n');
    lines[1] = lines[1]!.replace('"counts":[2', '"counts":[9'); // a flipped digit, checksum unchanged
    fs.writeFileSync(file, lines.join('\n'));
    expect(() => readLedger(file)).toThrow(LedgerCorruptError);
    expect(() => readLedger(file)).toThrow(/line 2: the checksum does not match/);
  });

  it('lists runs oldest first, one file per run', () => {
    const dir = fs.mkdtempSync(path.join(work, 'runs-'));
    for (const t of [900, 12000, 50]) LedgerWriter.open(dir, run(t)).close();
    fs.writeFileSync(path.join(dir, 'notes.txt'), '');
    expect(listLedgers(dir).map((f) => path.basename(f))).toEqual([
      'ledger-50.jsonl',
      'ledger-900.jsonl',
      'ledger-12000.jsonl',
    ]);
    expect(listLedgers(path.join(dir, 'absent'))).toEqual([]);
  });
});
