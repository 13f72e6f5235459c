/**
 * One writer per outbox directory: `outbox.lock` holds the owner's pid. A lock left by a process
 * that no longer exists (killed with SIGKILL) is taken over; a live owner makes `open` fail rather
 * than let two processes interleave appends in the same segments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OutboxLockedError } from './errors.js';

const FILE = 'outbox.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock; returns a function that releases it. */
export function lockDir(dir: string): () => void {
  const file = path.join(dir, FILE);
  let holder = NaN;
  try {
    holder = Number(fs.readFileSync(file, 'utf8').trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // Our own pid is stale too: a restarted container often gets the same pid as its predecessor.
  if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
    throw new OutboxLockedError(dir, holder);
  }
  fs.writeFileSync(file, String(process.pid));
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
    } catch {
      // already gone: nothing to release
    }
  };
}
