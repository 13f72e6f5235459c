/**
 * The outbox's segment files on disk: naming, listing, directory fsync, and the recovery scan.
 * A segment is `segment-<12-digit sequence>.jsonl`, one record per `\n`-terminated line. Segments
 * are only ever appended to, and only the newest can end in a torn (unterminated) line: a crash
 * during a write, before its fdatasync returned, so nothing in it was ever reported committed.
 */
import fs from 'node:fs';
import path from 'node:path';

const NAME = /^segment-(\d{12})\.jsonl$/;
const NEWLINE = 0x0a;
const SCAN_CHUNK = 1024 * 1024;

export function segmentName(sequence: number): string {
  return `segment-${String(sequence).padStart(12, '0')}.jsonl`;
}

export function segmentPath(dir: string, sequence: number): string {
  return path.join(dir, segmentName(sequence));
}

/** Sequence numbers of the segment files in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = NAME.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * Makes a directory entry change (create, rename, unlink) durable: on Linux a new file's name is
 * only guaranteed to survive a crash once its directory has been fsynced.
 */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Cuts a torn last line off a segment: everything after the last `\n` (a partial record, or the
 * zero-filled tail some file systems leave after a crash) is truncated and the cut is synced.
 * Returns the new size and how many bytes were removed.
 */
export function truncateTornTail(file: string): { size: number; removed: number } {
  const fd = fs.openSync(file, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    let end = size;
    const buf = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, Math.max(size, 1)));
    // Scan backwards for the last newline; a torn tail is at most one partial write long, but a
    // zero-filled tail can be longer, so keep reading chunks until a newline or the file's start.
    let found = -1;
    while (end > 0 && found < 0) {
      const start = Math.max(0, end - buf.length);
      const n = fs.readSync(fd, buf, 0, end - start, start);
      const i = buf.subarray(0, n).lastIndexOf(NEWLINE);
      if (i >= 0) found = start + i;
      end = start;
    }
    const keep = found + 1;
    if (keep < size) {
      fs.ftruncateSync(fd, keep);
      fs.fsyncSync(fd);
    }
    return { size: keep, removed: size - keep };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Counts the records (newlines) in `[from, to)` of a segment and returns the `appendedAt` of the
 * first one, read in bounded chunks so a large backlog costs time at start, not memory.
 */
export function scanRange(file: string, from: number, to: number): { records: number; firstAt: number | null } {
  if (to <= from) return { records: 0, firstAt: null };
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(SCAN_CHUNK);
    let records = 0;
    let firstAt: number | null = null;
    for (let pos = from; pos < to;) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      if (firstAt === null) firstAt = appendedAtOf(chunk);
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) records++;
      pos += n;
    }
    return { records, firstAt };
  } finally {
    fs.closeSync(fd);
  }
}

/** The `appendedAt` of the line at the start of `chunk` (lines begin `{"at":<ms>,`), or null. */
export function appendedAtOf(chunk: Buffer): number | null {
  const m = /^\{"at":(\d+),/.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 40)));
  return m ? Number(m[1]) : null;
}
