/**
 * The outbox's line format and the batches the relay reads. A line is
 *   {"at":<epoch ms the record was appended>,"record":<ExecutedEvent | ExecutionGroup | WindowEvent | RunEvent>}\n
 * `at` is the wall-clock time of the append, which gives the relay lag without any index in
 * memory; the record is the hook's event unchanged, so it becomes the job's data as it is.
 */
import type { ExecutedEvent, ExecutionGroup, RunEvent, WindowEvent } from '../../common/contracts.js';
import type { OutboxPosition } from './position-file.js';

/**
 * What the outbox holds: the events of the database's executed and window hooks (executions of a
 * busy tick grouped), stamped with the run, and the run's own start and end records.
 */
export type OutboxRecord = ExecutedEvent | ExecutionGroup | WindowEvent | RunEvent;

/** A line that is not a valid record (it can never be a job): it goes to the dead-letter queue. */
export interface InvalidLine {
  position: OutboxPosition;
  line: string;
  reason: string;
}

/** Consecutive committed lines of one segment. */
export interface OutboxBatch {
  /** The acknowledged position this batch continues from; `ack` checks it. */
  from: OutboxPosition;
  /** Where the next batch starts. */
  to: OutboxPosition;
  records: OutboxRecord[];
  invalid: InvalidLine[];
  /** Lines consumed (records + invalid) and their bytes. */
  lines: number;
  bytes: number;
  /** `at` of the first and last line, when known. */
  firstAt: number | null;
  lastAt: number | null;
}

export function formatLine(at: number, record: OutboxRecord): string {
  // String building instead of JSON.stringify of a wrapper: the record is serialized once, and the
  // envelope costs two concatenations on the tick path.
  return `{"at":${at},"record":${JSON.stringify(record)}}\n`;
}

export function emptyBatch(from: OutboxPosition, to: OutboxPosition): OutboxBatch {
  return { from, to, records: [], invalid: [], lines: 0, bytes: 0, firstAt: null, lastAt: null };
}

const NEWLINE = 0x0a;

/**
 * Parses up to `maxLines` complete lines of `buf[0, length)`, which starts at `start` in its
 * segment. Stops at the last newline: a trailing partial line belongs to the next read.
 */
export function parseLines(
  buf: Buffer,
  length: number,
  from: OutboxPosition,
  start: OutboxPosition,
  maxLines: number,
): OutboxBatch {
  const batch = emptyBatch(from, start);
  let s = 0;
  while (batch.lines < maxLines) {
    const nl = buf.indexOf(NEWLINE, s);
    if (nl < 0 || nl >= length) break;
    const text = buf.toString('utf8', s, nl);
    const position = { segment: start.segment, offset: start.offset + s };
    const parsed = parseLine(text);
    if (typeof parsed === 'string') {
      batch.invalid.push({ position, line: text, reason: parsed });
    } else {
      batch.records.push(parsed.record);
      batch.firstAt ??= parsed.at;
      batch.lastAt = parsed.at;
    }
    batch.lines++;
    s = nl + 1;
  }
  batch.bytes = s;
  batch.to = { segment: start.segment, offset: start.offset + s };
  return batch;
}

/** The line's time and record, or why it is not one. */
function parseLine(text: string): { at: number; record: OutboxRecord } | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const { at, record } = v as { at?: unknown; record?: { type?: unknown } };
  if (typeof at !== 'number') return 'no numeric "at"';
  if (typeof record !== 'object' || record === null) return 'no "record" object';
  if (record.type === 'executed') {
    if (typeof (record as ExecutedEvent).executionId !== 'string') return 'executed record without executionId';
  } else if (record.type === 'executions') {
    const g = record as ExecutionGroup;
    if (typeof g.tick !== 'number' || !Array.isArray(g.executions)) return 'executions group without tick or list';
  } else if (record.type === 'window') {
    if (typeof (record as WindowEvent).windowId !== 'number') return 'window record without numeric windowId';
  } else if (record.type === 'run') {
    if (typeof (record as RunEvent).runId !== 'string') return 'run record without runId';
  } else {
    return `unknown record type ${JSON.stringify(record.type)}`;
  }
  return { at, record: record as OutboxRecord };
}
