/**
 * What the outbox finds on disk when it opens, after a clean stop or a crash: the acknowledged
 * position, the segments still holding unacknowledged records (leftovers of a crash between a
 * position write and an unlink are deleted), the newest segment's torn tail cut off, and the
 * backlog counted in bounded chunks. Synchronous: it runs once, before the first tick.
 */
import fs from 'node:fs';
import type { Logger } from '../../common/logger.js';
import { formatPosition, readPosition, type OutboxPosition } from './position-file.js';
import { listSegments, scanRange, segmentPath, truncateTornTail } from './segment-files.js';

export interface RecoveredOutbox {
  /** Where relaying resumes. */
  start: OutboxPosition;
  /** Segments kept (ascending) and their sizes after the torn-tail cut. */
  segments: number[];
  sizes: Map<number, number>;
  /** The sequence of the fresh segment to write next (past every existing one). */
  nextSegment: number;
  pendingRecords: number;
  pendingBytes: number;
  /** Append time of the first unacknowledged record, when there is one. */
  oldestPendingAt: number | null;
  truncatedBytes: number;
}

export function recoverOutbox(dir: string, logger: Logger): RecoveredOutbox {
  const found = listSegments(dir);
  let pos = readPosition(dir);
  if (pos === 'invalid') {
    // Re-sending everything on disk is safe (job ids are idempotent); refusing to start is not.
    logger.warn({ dir }, 'outbox position file unreadable; relaying every segment from its start');
    pos = null;
  }
  const start = pos ?? { segment: found[0] ?? 0, offset: 0 };
  // Segments before the acknowledged one were fully acknowledged; a crash came before their unlink.
  for (const seq of found.filter((s) => s < start.segment)) fs.unlinkSync(segmentPath(dir, seq));
  const segments = found.filter((s) => s >= start.segment);
  const last = segments.at(-1);
  // Only the newest segment can be torn: rotation happens between commits.
  const truncatedBytes = last === undefined ? 0 : truncateTornTail(segmentPath(dir, last)).removed;
  const sizes = new Map(segments.map((seq) => [seq, fs.statSync(segmentPath(dir, seq)).size]));

  const nextSegment = Math.max(start.segment, last ?? 0) + 1;
  if (segments[0] !== start.segment) {
    // The acknowledged segment is gone (fully acknowledged): resume at the next one, or at the new one.
    start.segment = segments[0] ?? nextSegment;
    start.offset = 0;
  }
  const startSize = sizes.get(start.segment) ?? 0;
  if (start.offset > startSize) {
    logger.warn({ dir, position: formatPosition(start), size: startSize }, 'outbox position past segment end; clamped');
    start.offset = startSize;
  }
  let pendingRecords = 0;
  let pendingBytes = 0;
  let oldestPendingAt: number | null = null;
  for (const seq of segments) {
    const from = seq === start.segment ? start.offset : 0;
    const scan = scanRange(segmentPath(dir, seq), from, sizes.get(seq)!);
    pendingRecords += scan.records;
    pendingBytes += sizes.get(seq)! - from;
    oldestPendingAt ??= scan.firstAt;
  }
  return { start, segments, sizes, nextSegment, pendingRecords, pendingBytes, oldestPendingAt, truncatedBytes };
}
