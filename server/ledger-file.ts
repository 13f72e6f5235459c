/**
 * The execution ledger on disk: the database's own count of what it executed, per tick, kept per
 * run in `<dir>/ledger-<first tick>.jsonl`, so completeness can be checked after the system stopped
 * (`npm run verify` on a stopped system) and not only against the running one's memory.
 *
 * Format: one entry per line, `<crc32 hex> <json>\n`; the first entry describes the run, the others
 * carry the executed counts of consecutive ticks, and a clean close adds an end mark. Each entry is appended with one write and carries
 * its own checksum, so an entry is either whole and verified or not there: a write cut short by a
 * crash leaves a torn last line, which the reader detects and ignores (those ticks are then not
 * covered). A bad line anywhere else is corruption and is refused. Entries go out once per metrics
 * window (and at close, fdatasynced): the page cache keeps them through a crash of the process; a
 * crash of the machine can lose the last seconds, which then are simply not covered.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { SpikeError } from '../common/errors.js';
import { windowsClosedIn, type LedgerRange } from './ledger.js';

export interface LedgerRun {
  /** The run's id: its first tick (ticks are numbered on the wall clock, so runs never overlap). */
  run: string;
  firstTick: number;
  tickMs: number;
  windowTicks: number;
  seed: string;
  startedAt: number;
}

/** A ledger file cannot be trusted: a bad checksum or a gap before its last line. */
export class LedgerCorruptError extends SpikeError {
  constructor(
    readonly file: string,
    readonly line: number,
    why: string,
  ) {
    super('LEDGER_CORRUPT', `ledger ${file}, line ${line}: ${why}`);
  }
}

/** Writing the ledger failed (a full or failing disk): a tick failure, so the server stops. */
export class LedgerWriteError extends SpikeError {
  constructor(
    readonly file: string,
    options?: ErrorOptions,
  ) {
    super('LEDGER_WRITE_FAILED', `writing the execution ledger ${file} failed`, options);
  }
}

const FILE = /^ledger-(\d+)\.jsonl$/;

function line(entry: object): string {
  const json = JSON.stringify(entry);
  return `${zlib.crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

export class LedgerWriter {
  private fd: number;
  private from: number;
  private counts: number[] = [];
  private state: 'open' | 'failed' | 'closed' = 'open';

  private constructor(
    readonly file: string,
    private next: number,
    private readonly flushTicks: number,
  ) {
    this.from = next;
    this.fd = fs.openSync(file, 'ax');
  }

  /** Creates the run's file and writes its description (synced with the directory entry). */
  static open(dir: string, run: Omit<LedgerRun, 'run'>): LedgerWriter {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `ledger-${run.firstTick}.jsonl`);
    const writer = new LedgerWriter(file, run.firstTick, run.windowTicks);
    writer.write(line({ type: 'run', run: String(run.firstTick), ...run }));
    fs.fdatasyncSync(writer.fd);
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
    return writer;
  }

  /** Records tick `tick` (the next one) with its executed count; writes an entry every window. */
  record(tick: number, executed: number): void {
    if (this.state !== 'open') return;
    if (tick !== this.next) throw new Error(`ledger expected tick ${this.next}, got ${tick}`);
    this.counts.push(executed);
    this.next = tick + 1;
    if (this.counts.length >= this.flushTicks) this.flush();
  }

  /** Appends the ticks recorded since the last entry as one entry (no fsync; see the module note). */
  flush(): void {
    if (this.state !== 'open' || this.counts.length === 0) return;
    const entry = line({ type: 'ticks', from: this.from, counts: this.counts });
    this.from = this.next;
    this.counts = [];
    this.write(entry);
  }

  private write(text: string): void {
    const data = Buffer.from(text, 'utf8');
    try {
      for (let off = 0; off < data.length;) off += fs.writeSync(this.fd, data, off, data.length - off);
    } catch (error) {
      this.state = 'failed';
      throw new LedgerWriteError(this.file, { cause: error });
    }
  }

  /** Writes what is recorded, syncs and closes. Idempotent; after a write failure it only closes. */
  close(): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'open') {
        this.flush();
        // The end mark: the run stopped cleanly and the file covers every tick it ran.
        this.write(line({ type: 'end', lastTick: this.next - 1, stoppedAt: Date.now() }));
        fs.fdatasyncSync(this.fd);
      }
    } finally {
      this.state = 'closed';
      fs.closeSync(this.fd);
    }
  }
}

export interface LedgerContents {
  file: string;
  run: LedgerRun;
  /** Executed counts of ticks firstTick, firstTick + 1, … (the ticks the file covers). */
  counts: number[];
  /** A last line cut short by a crash was ignored. */
  tornTail: boolean;
  /** The run closed its ledger (a clean stop, or a fail-stop); false: it runs, or it was killed. */
  ended: boolean;
}

/** Reads and checks a ledger file (see the module note for what is refused). */
export function readLedger(file: string): LedgerContents {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  if (complete) lines.pop();
  let run: LedgerRun | undefined;
  const counts: number[] = [];
  let tornTail = false;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const last = i === lines.length - 1;
    const json = raw.slice(9);
    const valid = raw[8] === ' ' && zlib.crc32(json).toString(16).padStart(8, '0') === raw.slice(0, 8);
    if (!valid || (last && !complete)) {
      if (last && i > 0) {
        tornTail = true;
        break;
      }
      throw new LedgerCorruptError(file, i + 1, 'the checksum does not match');
    }
    const entry = JSON.parse(json) as { type: string; from?: number; counts?: number[] } & LedgerRun;
    if (i === 0) {
      if (entry.type !== 'run') throw new LedgerCorruptError(file, 1, 'the first entry does not describe a run');
      run = { ...entry };
      delete (run as { type?: string }).type;
      continue;
    }
    if (entry.type === 'end' && !ended) {
      ended = true;
      continue;
    }
    if (
      ended ||
      entry.type !== 'ticks' ||
      entry.from !== run!.firstTick + counts.length ||
      !Array.isArray(entry.counts)
    ) {
      throw new LedgerCorruptError(file, i + 1, `expected the counts from tick ${run!.firstTick + counts.length}`);
    }
    counts.push(...entry.counts);
  }
  if (!run) throw new LedgerCorruptError(file, 1, 'the file is empty');
  return { file, run, counts, tornTail, ended };
}

/** The ledger files in `dir`, oldest run first (none when the directory does not exist). */
export function listLedgers(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, tick: FILE.exec(name)?.[1] }))
    .filter((f): f is { name: string; tick: string } => f.tick !== undefined)
    .sort((a, b) => Number(a.tick) - Number(b.tick))
    .map((f) => path.join(dir, f.name));
}

/** The counts of [from, to] clipped to the ticks the ledger covers (as `GET /stats/executed` answers). */
export function ledgerRange(l: LedgerContents, from: number, to: number): LedgerRange {
  const lo = Math.max(from, l.run.firstTick);
  const hi = Math.min(to, l.run.firstTick + l.counts.length - 1);
  let executed = 0;
  for (let t = lo; t <= hi; t++) executed += l.counts[t - l.run.firstTick]!;
  return { from, to, executed, windows: windowsClosedIn(lo, hi, l.run.windowTicks) };
}
