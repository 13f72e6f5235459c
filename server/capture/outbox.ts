/**
 * The durable outbox between the database's hooks and Redis. The tick path calls `append` for each
 * record (a string push) and `commit` once per tick: one synchronous write and one fdatasync of
 * everything appended, so the tick's records are on disk before the next tick runs. The relay
 * reads committed lines asynchronously in bounded chunks, and `ack` persists how far Redis has
 * acknowledged and deletes segments that are fully acknowledged. The backlog lives on disk: memory
 * holds one tick's buffer and the relay's current batch, whatever the backlog's size.
 *
 * Files in `dir`: `segment-<seq>.jsonl` (append-only, rotated by size, format in outbox-batch.ts),
 * `position.json` (the acknowledged position) and `outbox.lock` (the writer's pid).
 */
import fs from 'node:fs';
import { silentLogger, type Logger } from '../../common/logger.js';
import { lockDir } from './dir-lock.js';
import { OutboxAckOrderError, OutboxClosedError, OutboxWriteError } from './errors.js';
import { emptyBatch, formatLine, parseLines, type OutboxBatch, type OutboxRecord } from './outbox-batch.js';
import { recoverOutbox } from './outbox-recovery.js';
import { formatPosition, samePosition, writePosition, type OutboxPosition } from './position-file.js';
import { fsyncDir, segmentPath } from './segment-files.js';

export interface OutboxOptions {
  dir: string;
  /** A segment is closed once it holds at least this many bytes. */
  segmentBytes: number;
  logger?: Logger;
}

export interface OutboxStats {
  dir: string;
  /** Committed records (and bytes) not yet acknowledged by Redis. */
  pendingRecords: number;
  pendingBytes: number;
  /** Append time of the oldest unacknowledged record (a lower bound between two reads), or null. */
  oldestPendingAt: number | null;
  /** Segment files on disk. */
  segments: number;
  /** Records committed and acknowledged by this process. */
  committedTotal: number;
  ackedTotal: number;
  /** Unacknowledged records found on disk at open, and torn bytes cut off then. */
  recoveredRecords: number;
  truncatedBytes: number;
  ackPosition: string;
  writePosition: string;
}

const NEWLINE = 0x0a;
const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 16 * 1024 * 1024;

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

export class Outbox {
  private state: 'open' | 'failed' | 'closed' = 'open';
  private readonly release: () => void;
  /** Sequences of the segments on disk, ascending; the last is the one being written. */
  private readonly segments: number[] = [];
  /** Committed bytes of each segment. */
  private readonly sizes = new Map<number, number>();
  private writeFd = -1;
  private buffer: string[] = [];
  private bufferAt = 0;
  private ackPos: OutboxPosition;
  /** The end of the last acknowledged batch as read (before moving to the next segment's start). */
  private ackedTo: OutboxPosition;
  private readPos: OutboxPosition;
  private reader: { segment: number; fd: number } | undefined;
  private pendingRecords = 0;
  private pendingBytes = 0;
  private oldestPendingAt: number | null = null;
  private committedTotal = 0;
  private ackedTotal = 0;
  private recoveredRecords = 0;
  private truncatedBytes = 0;
  private readonly listeners = new Set<() => void>();
  private readonly logger: Logger;
  /** The last failure to persist the position, until one succeeds (logged once). */
  private positionFailure: unknown;

  /** Opens (creating if needed) and recovers the outbox in `options.dir`. Synchronous: run at start. */
  static open(options: OutboxOptions): Outbox {
    fs.mkdirSync(options.dir, { recursive: true });
    const release = lockDir(options.dir);
    try {
      return new Outbox(options, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  private constructor(
    private readonly options: OutboxOptions,
    release: () => void,
  ) {
    this.release = release;
    this.logger = options.logger ?? silentLogger;
    const found = recoverOutbox(options.dir, this.logger);
    const start = found.start;
    this.segments.push(...found.segments);
    for (const [seq, size] of found.sizes) this.sizes.set(seq, size);
    this.pendingRecords = found.pendingRecords;
    this.pendingBytes = found.pendingBytes;
    this.oldestPendingAt = found.oldestPendingAt;
    this.truncatedBytes = found.truncatedBytes;
    this.recoveredRecords = this.pendingRecords;
    this.ackPos = { ...start };
    this.ackedTo = { ...start };
    this.readPos = { ...start };
    // Always write a fresh segment: the old ones are sealed, and nothing appends after a torn cut.
    this.openSegment(found.nextSegment);
    if (this.truncatedBytes > 0 || this.recoveredRecords > 0) {
      this.logger.info(
        {
          dir: options.dir,
          recoveredRecords: this.recoveredRecords,
          truncatedBytes: this.truncatedBytes,
          position: formatPosition(start),
        },
        'outbox recovered',
      );
    }
  }

  private get writeSeq(): number {
    return this.segments.at(-1)!;
  }

  private openSegment(seq: number): void {
    this.writeFd = fs.openSync(segmentPath(this.options.dir, seq), 'ax');
    fsyncDir(this.options.dir);
    this.segments.push(seq);
    this.sizes.set(seq, 0);
  }

  /** Buffers a record for the next `commit`. Cheap and synchronous: called from the hooks. */
  append(record: OutboxRecord): void {
    if (this.state !== 'open') throw new OutboxClosedError(this.options.dir);
    if (this.buffer.length === 0) this.bufferAt = Date.now();
    this.buffer.push(formatLine(this.bufferAt, record));
  }

  /**
   * Writes and fdatasyncs every appended record; returns how many. Called once per tick. On a write
   * failure the outbox stops (fail-stop, see OutboxWriteError) and the error propagates to the tick.
   */
  commit(): number {
    if (this.state !== 'open') throw new OutboxClosedError(this.options.dir);
    const n = this.buffer.length;
    if (n === 0) return 0;
    const data = Buffer.from(this.buffer.join(''), 'utf8');
    this.buffer = [];
    let seq = this.writeSeq;
    try {
      if (this.sizes.get(seq)! >= this.options.segmentBytes) {
        fs.closeSync(this.writeFd);
        this.openSegment(++seq);
      }
      for (let off = 0; off < data.length;) off += fs.writeSync(this.writeFd, data, off, data.length - off);
      fs.fdatasyncSync(this.writeFd);
    } catch (error) {
      this.state = 'failed';
      this.logger.fatal({ err: error, segment: seq }, 'outbox write failed; outbox stopped');
      throw new OutboxWriteError(segmentPath(this.options.dir, seq), { cause: error });
    }
    this.sizes.set(seq, this.sizes.get(seq)! + data.length);
    this.pendingRecords += n;
    this.pendingBytes += data.length;
    this.committedTotal += n;
    this.oldestPendingAt ??= this.bufferAt;
    for (const listener of this.listeners) listener();
    return n;
  }

  /** Calls `listener` after every commit that wrote records (synchronously, on the tick path). */
  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads up to `maxRecords` committed lines after the last read (within one segment). Returns an
   * empty batch when everything committed has been read. One reader at a time (the relay).
   */
  async read(maxRecords: number): Promise<OutboxBatch> {
    if (this.state === 'closed') throw new OutboxClosedError(this.options.dir);
    const from = { ...this.readPos };
    let pos = { ...from };
    // Skip fully read segments; the segment being written is never skipped.
    while (pos.segment !== this.writeSeq && pos.offset >= (this.sizes.get(pos.segment) ?? 0)) {
      pos = { segment: this.segments.find((s) => s > pos.segment)!, offset: 0 };
    }
    const end = this.sizes.get(pos.segment)!;
    if (pos.offset >= end) {
      this.readPos = pos;
      return emptyBatch(from, pos);
    }
    const fd = this.readerFor(pos.segment);
    const avgLine = this.pendingRecords > 0 ? this.pendingBytes / this.pendingRecords : 512;
    let want = Math.min(
      end - pos.offset,
      Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.ceil(maxRecords * avgLine * 1.2))),
    );
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const n = await readAt(fd, buf, want, pos.offset);
      if (buf.subarray(0, n).lastIndexOf(NEWLINE) >= 0) {
        const batch = parseLines(buf, n, from, pos, maxRecords);
        this.readPos = batch.to;
        const atAck = samePosition(from, this.ackPos) || samePosition(from, this.ackedTo);
        if (atAck && batch.firstAt !== null) this.oldestPendingAt = batch.firstAt;
        return batch;
      }
      // Committed data always ends with a newline, so a line longer than the chunk: read more.
      if (want >= end - pos.offset) throw new Error(`outbox segment ${pos.segment} has no line end before ${end}`);
      want = Math.min(end - pos.offset, want * 2);
    }
  }

  private readerFor(segment: number): number {
    if (this.reader?.segment !== segment) {
      this.closeReader();
      this.reader = { segment, fd: fs.openSync(segmentPath(this.options.dir, segment), 'r') };
    }
    return this.reader.fd;
  }

  private closeReader(): void {
    if (this.reader) fs.closeSync(this.reader.fd);
    this.reader = undefined;
  }

  /**
   * Records that `batch` was acknowledged by Redis: persists its end as the acknowledged position
   * (atomically), then deletes segments that are now fully acknowledged. Batches must be
   * acknowledged in the order they were read.
   */
  async ack(batch: OutboxBatch): Promise<void> {
    if (this.state === 'closed') throw new OutboxClosedError(this.options.dir);
    if (!samePosition(batch.from, this.ackPos) && !samePosition(batch.from, this.ackedTo)) {
      throw new OutboxAckOrderError(formatPosition(this.ackPos), formatPosition(batch.from));
    }
    let to = batch.to;
    // A sealed segment read to its end: acknowledge the next one's start so this one can go now.
    if (to.segment !== this.writeSeq && to.offset >= (this.sizes.get(to.segment) ?? 0)) {
      to = { segment: this.segments.find((s) => s > to.segment)!, offset: 0 };
    }
    // A position that cannot be written (a full or failing disk) costs only re-sends after a
    // restart (job ids dedup them): the batch is in Redis, so acknowledge it in memory and go on,
    // keeping the segments the persisted position still points into.
    let persisted = true;
    if (!samePosition(to, this.ackPos)) {
      try {
        await writePosition(this.options.dir, to);
        this.positionFailure = undefined;
      } catch (error) {
        persisted = false;
        if (this.positionFailure === undefined) {
          this.logger.error(
            { err: error, position: formatPosition(to) },
            'outbox position not persisted; records acknowledged since are sent again after a restart',
          );
        }
        this.positionFailure = error;
      }
    }
    if (samePosition(this.readPos, batch.to)) this.readPos = { ...to };
    this.ackPos = { ...to };
    this.ackedTo = { ...batch.to };
    while (persisted && this.segments[0]! < to.segment) {
      const seq = this.segments.shift()!;
      if (this.reader?.segment === seq) this.closeReader();
      this.sizes.delete(seq);
      await fs.promises.unlink(segmentPath(this.options.dir, seq));
    }
    this.pendingRecords -= batch.lines;
    this.pendingBytes -= batch.bytes;
    this.ackedTotal += batch.lines;
    this.oldestPendingAt = this.pendingRecords === 0 ? null : (batch.lastAt ?? this.oldestPendingAt);
  }

  /** Reads again from the acknowledged position (after a failed send of batches read ahead). */
  rewind(): void {
    this.readPos = { ...this.ackPos };
  }

  /** False once a write failed (fail-stop) or after close: appends and commits throw then. */
  get writable(): boolean {
    return this.state === 'open';
  }

  /** Records appended but not yet committed (they are lost if the process dies now). */
  get uncommitted(): number {
    return this.buffer.length;
  }

  stats(): OutboxStats {
    return {
      dir: this.options.dir,
      pendingRecords: this.pendingRecords,
      pendingBytes: this.pendingBytes,
      oldestPendingAt: this.oldestPendingAt,
      segments: this.segments.length,
      committedTotal: this.committedTotal,
      ackedTotal: this.ackedTotal,
      recoveredRecords: this.recoveredRecords,
      truncatedBytes: this.truncatedBytes,
      ackPosition: formatPosition(this.ackPos),
      writePosition: `${this.writeSeq}:${this.sizes.get(this.writeSeq)}`,
    };
  }

  /** Commits what was appended, then closes the files and releases the directory. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'open') this.commit();
    } finally {
      this.state = 'closed';
      this.closeReader();
      fs.closeSync(this.writeFd);
      this.release();
    }
  }
}
