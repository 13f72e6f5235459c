/**
 * The outbox's acknowledged position, persisted as `position.json` by writing a temporary file,
 * fsyncing it, renaming it over the old one and fsyncing the directory: a crash leaves either the
 * old position or the new one, never a torn file. The position only ever covers records Redis has
 * acknowledged, so restarting from it re-sends at most what was in flight (idempotent job ids).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirAsync } from './segment-files.js';

/** A place in the outbox: a segment's sequence number and a byte offset in it (a line start). */
export interface OutboxPosition {
  segment: number;
  offset: number;
}

const FILE = 'position.json';

export function formatPosition(p: OutboxPosition): string {
  return `${p.segment}:${p.offset}`;
}

export function samePosition(a: OutboxPosition, b: OutboxPosition): boolean {
  return a.segment === b.segment && a.offset === b.offset;
}

/** The persisted position, `null` when there is none, or `'invalid'` when the file is unreadable. */
export function readPosition(dir: string): OutboxPosition | null | 'invalid' {
  let raw: string;
  try {
    raw = fs.readFileSync(path.join(dir, FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const v = JSON.parse(raw) as Partial<OutboxPosition>;
    if (Number.isSafeInteger(v.segment) && Number.isSafeInteger(v.offset) && v.segment! >= 0 && v.offset! >= 0) {
      return { segment: v.segment!, offset: v.offset! };
    }
  } catch {
    // fall through: treated like a missing position by the caller, which re-sends from the start
  }
  return 'invalid';
}

export async function writePosition(dir: string, p: OutboxPosition): Promise<void> {
  const target = path.join(dir, FILE);
  const temp = `${target}.tmp`;
  const handle = await fs.promises.open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify({ segment: p.segment, offset: p.offset, savedAt: Date.now() }));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, target);
  await fsyncDirAsync(dir);
}
