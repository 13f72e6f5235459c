/**
 * One writer per outbox directory: two processes appending to the same segments would corrupt them.
 * Node has no flock(2), so the lock is a file, `outbox.lock`, naming its holder (pid, the process's
 * start time where /proc shows it, a random token), and taking it is atomic: the contents are
 * written to a private file first and published with link(2), which either creates the name with
 * the whole contents or fails with EEXIST. Two processes starting at the same moment cannot both
 * take it, and nobody ever reads a half-written lock. (link(2) needs a filesystem with hard links:
 * any local one; some network mounts refuse it, and the start then fails with their error.)
 *
 * A lock whose holder is gone (SIGKILL, power loss) does not block the next start: it is broken,
 * and breaking is race-free too. A breaker must first win a token file for that exact lock
 * (`outbox.lock.break-<hash of its contents>-<n>`, again by link) and removes the lock only if it
 * still has the same contents; since every lock carries a random token, a newer lock never matches.
 * A token whose own holder died midway is passed over by taking the next number. Liveness is
 * `kill(pid, 0)` plus, on Linux, the start time, so a recycled pid (a restarted container often
 * gets its predecessor's) does not pass for the old holder.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OutboxLockedError } from './errors.js';

const FILE = 'outbox.lock';
const BREAK = /^outbox\.lock\.break-[0-9a-f]+-\d+$/;
const TEMP = /^outbox\.lock\.(\d+)\.[0-9a-f]+\.tmp$/;
/** A live breaker needs microseconds; one still at it after this many 1 ms waits is stuck (stopped). */
const MAX_WAITS = 2000;

interface Holder {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat), or null where unknown. */
  started: number | null;
}

/** State (field 3) and start time (field 22) of `pid` from /proc, or null (no /proc, or no such process). */
function procStat(pid: number): { state: string; started: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses, so count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const started = Number(fields[19]);
    return Number.isSafeInteger(started) ? { state: fields[0]!, started } : null;
  } catch {
    return null;
  }
}

function isAlive(h: Holder): boolean {
  if (!Number.isSafeInteger(h.pid) || h.pid <= 0) return false;
  try {
    process.kill(h.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(h.pid);
  // A killed process its parent has not reaped yet still answers kill(pid, 0).
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return false;
  if (h.started !== null) return stat === null || stat.started === h.started;
  // A lock without a start time (older format): our own pid there is a predecessor's.
  return h.pid !== process.pid;
}

/** The contents of a lock or token file, or null when it does not exist. */
function readRaw(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The holder a lock or token names; a bare pid is the older format; anything else names nobody. */
function parse(raw: string): Holder {
  if (/^\s*\d+\s*$/.test(raw)) return { pid: Number(raw), started: null };
  try {
    const v = JSON.parse(raw) as { pid?: unknown; started?: unknown };
    if (typeof v.pid === 'number') return { pid: v.pid, started: typeof v.started === 'number' ? v.started : null };
  } catch {
    // not ours: treated as stale
  }
  return { pid: NaN, started: null };
}

/** Creates `name` with the contents of `from`, or returns false when `name` exists. */
function publish(from: string, name: string): boolean {
  try {
    fs.linkSync(from, name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

function commandOf(pid: number): string | undefined {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd.length > 200 ? `${cmd.slice(0, 200)}…` : cmd || undefined;
  } catch {
    return undefined;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Removes the stale lock whose contents are `stale`, unless someone else is already doing so.
 * Returns the pid of the live breaker that holds the token (the caller waits and looks again), or
 * null when the caller should look at the lock again now.
 */
function breakStale(dir: string, stale: string, draft: string): number | null {
  const id = createHash('sha256').update(stale).digest('hex').slice(0, 16);
  for (let n = 1; ; n++) {
    const token = path.join(dir, `${FILE}.break-${id}-${n}`);
    if (publish(draft, token)) {
      try {
        // Only a holder of this lock's token removes it, so it cannot change between read and unlink.
        if (readRaw(path.join(dir, FILE)) === stale) fs.unlinkSync(path.join(dir, FILE));
      } finally {
        removeQuietly(token);
      }
      return null;
    }
    const raw = readRaw(token);
    if (raw === null) return null; // that breaker just finished: look at the lock again
    const breaker = parse(raw);
    if (isAlive(breaker)) return breaker.pid;
  }
}

/** Files a killed process left midway (its private copy, a breaker's token), once their owner is gone. */
function sweep(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    const temp = TEMP.exec(name);
    if (temp && !isAlive({ pid: Number(temp[1]), started: null })) removeQuietly(file);
    if (BREAK.test(name)) {
      const raw = readRaw(file);
      if (raw !== null && !isAlive(parse(raw))) removeQuietly(file);
    }
  }
}

/** Takes the lock on `dir` (which must exist); returns a function that releases it. */
export function lockDir(dir: string): () => void {
  const file = path.join(dir, FILE);
  const mine = JSON.stringify({
    pid: process.pid,
    started: procStat(process.pid)?.started ?? null,
    token: randomBytes(8).toString('hex'),
  });
  const draft = path.join(dir, `${FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  fs.writeFileSync(draft, mine, { flag: 'wx' });
  try {
    for (let waits = 0; ;) {
      if (publish(draft, file)) break;
      const held = readRaw(file);
      if (held === null) continue; // released meanwhile
      const holder = parse(held);
      if (isAlive(holder)) throw new OutboxLockedError(dir, holder.pid, commandOf(holder.pid));
      const breaker = breakStale(dir, held, draft);
      if (breaker === null) continue;
      if (++waits > MAX_WAITS) throw new OutboxLockedError(dir, breaker, commandOf(breaker));
      pause(1);
    }
  } finally {
    removeQuietly(draft);
  }
  sweep(dir);
  return () => {
    try {
      if (readRaw(file) === mine) fs.unlinkSync(file);
    } catch {
      // gone already, or the directory with it: nothing to release
    }
  };
}
