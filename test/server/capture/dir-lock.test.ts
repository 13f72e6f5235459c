/**
 * One writer per outbox directory, with real processes: contenders that call Outbox.open on one
 * directory in the same millisecond, round after round, with exactly one winner each time, also
 * when the directory starts with a lock left by a process killed with SIGKILL; and the lock's
 * rules one by one (a live holder, a dead one, a recycled pid, the older format, leftovers of a
 * breaker killed midway).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDir } from '../../../server/capture/dir-lock.js';
import { OutboxLockedError } from '../../../server/capture/errors.js';

const CHILD = fileURLToPath(new URL('./fixtures/lock-contender.ts', import.meta.url));

interface Answer {
  round: number;
  won?: boolean;
  closed?: boolean;
  code?: string;
  pid?: number;
  message?: string;
}

/** A lock-contender child process, driven one request at a time per round. */
class Contender {
  private readonly waiting = new Map<string, (a: Answer) => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const a = JSON.parse(line) as Answer & { ready?: number };
      const key = a.ready !== undefined ? 'ready' : `${a.round}:${a.closed ? 'close' : 'open'}`;
      this.waiting.get(key)?.(a);
      this.waiting.delete(key);
    });
  }

  static async start(): Promise<Contender> {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const c = new Contender(child);
    await c.answer('ready');
    return c;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private answer(key: string): Promise<Answer> {
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }

  open(round: number, dir: string, at: number): Promise<Answer> {
    const answer = this.answer(`${round}:open`);
    this.child.stdin!.write(`${JSON.stringify({ op: 'open', round, dir, at })}\n`);
    return answer;
  }

  close(round: number): Promise<Answer> {
    const answer = this.answer(`${round}:close`);
    this.child.stdin!.write(`${JSON.stringify({ op: 'close', round })}\n`);
    return answer;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const lockFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('outbox.lock'))
    .sort();

describe('two or more processes opening one outbox at the same moment', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dir-lock-race-'));
  const running: Contender[] = [];
  afterAll(async () => {
    await Promise.all(running.map((c) => c.kill()));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('exactly one wins every round, the others name the directory and the holder; a SIGKILLed holder does not block', async () => {
    const ROUNDS = 20;
    const contenders = await Promise.all([1, 2, 3, 4].map(() => Contender.start()));
    running.push(...contenders);
    // Stale locks: a process takes the lock of one directory per odd round, then dies by SIGKILL.
    const victim = await Contender.start();
    running.push(victim);
    const staleDirs = Array.from({ length: ROUNDS / 2 }, (_, i) => path.join(work, `stale-${i}`));
    for (const [i, d] of staleDirs.entries()) expect(await victim.open(1000 + i, d, 0)).toMatchObject({ won: true });
    await victim.kill();

    const dir = path.join(work, 'outbox');
    fs.mkdirSync(dir);
    for (let round = 0; round < ROUNDS; round++) {
      const stale = round % 2 === 1;
      // The lock the killed process left, moved to where the contenders meet.
      if (stale) fs.renameSync(path.join(staleDirs[(round - 1) / 2]!, 'outbox.lock'), path.join(dir, 'outbox.lock'));
      if (stale)
        expect(JSON.parse(fs.readFileSync(path.join(dir, 'outbox.lock'), 'utf8'))).toMatchObject({ pid: victim.pid });
      const at = Date.now() + 300;
      const answers = await Promise.all(contenders.map((c) => c.open(round, dir, at)));
      const winners = contenders.filter((_, i) => answers[i]!.won);
      expect(winners, `round ${round}: ${JSON.stringify(answers)}`).toHaveLength(1);
      const winner = winners[0]!;
      for (const a of answers.filter((x) => !x.won)) {
        expect(a, `round ${round}`).toMatchObject({ code: 'OUTBOX_LOCKED', pid: winner.pid });
        expect(a.message).toContain(`the outbox in ${dir} is in use by process ${winner.pid}`);
        expect(a.message).toContain('lock-contender.ts'); // the holder's command line
      }
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'outbox.lock'), 'utf8'))).toMatchObject({ pid: winner.pid });
      expect(await winner.close(round)).toMatchObject({ closed: true });
      // Released, and nothing left behind: no drafts, no breakers' tokens.
      expect(lockFiles(dir), `round ${round}`).toEqual([]);
    }
  }, 120_000);
});

describe('lockDir', () => {
  let dir: string;
  const lock = () => path.join(dir, 'outbox.lock');
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dir-lock-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a live holder, naming it; this very process counts as one', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(lock(), JSON.stringify({ pid: holder.pid, started: null, token: 'x' }));
      const error = (() => {
        try {
          lockDir(dir);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(OutboxLockedError);
      expect(error).toMatchObject({ dir, pid: holder.pid, command: 'sleep 30' });
      expect((error as Error).message).toContain('--outbox-dir');
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const release = lockDir(dir); // the holder is gone now
    expect(() => lockDir(dir)).toThrow(OutboxLockedError);
    release();
    expect(lockFiles(dir)).toEqual([]);
  });

  it.each([
    ['a dead process', async () => JSON.stringify({ pid: await deadPid(), started: 1, token: 'a' })],
    ['a dead process, older format (bare pid)', async () => String(await deadPid())],
    ['its own pid, older format (a restarted container)', () => Promise.resolve(String(process.pid))],
    ['nobody (unreadable contents)', () => Promise.resolve('{"pid":')],
  ])('takes over a lock left by %s', async (_name, contents) => {
    fs.writeFileSync(lock(), await contents());
    const release = lockDir(dir);
    expect(JSON.parse(fs.readFileSync(lock(), 'utf8'))).toMatchObject({ pid: process.pid });
    release();
    expect(lockFiles(dir)).toEqual([]);
  });

  it('takes over a recycled pid: alive, but not the process that took the lock (start time differs)', async () => {
    const other = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(lock(), JSON.stringify({ pid: other.pid, started: 1, token: 'b' }));
      const release = lockDir(dir);
      expect(JSON.parse(fs.readFileSync(lock(), 'utf8'))).toMatchObject({ pid: process.pid });
      release();
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
  });

  it('gets past the leftovers of a breaker killed midway, and sweeps them', async () => {
    const dead = await deadPid();
    const stale = JSON.stringify({ pid: dead, started: 1, token: 'c' });
    fs.writeFileSync(lock(), stale);
    const id = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    // The killed breaker's token for this lock, and its private draft.
    fs.writeFileSync(
      path.join(dir, `outbox.lock.break-${id}-1`),
      JSON.stringify({ pid: dead, started: 1, token: 'd' }),
    );
    fs.writeFileSync(path.join(dir, `outbox.lock.${dead}.0123abcd.tmp`), 'draft');
    const release = lockDir(dir);
    expect(lockFiles(dir)).toEqual(['outbox.lock']);
    release();
    expect(lockFiles(dir)).toEqual([]);
  });

  it('leaves a stale lock to the live process already breaking it; one stuck at it is named as the holder', async () => {
    const stale = JSON.stringify({ pid: await deadPid(), started: 1, token: 'e' });
    fs.writeFileSync(lock(), stale);
    const id = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    const token = path.join(dir, `outbox.lock.break-${id}-1`);
    const breaker = spawn('sleep', ['30']); // holds the token and never finishes (as if stopped)
    try {
      fs.writeFileSync(token, JSON.stringify({ pid: breaker.pid, started: null, token: 'f' }));
      expect(() => lockDir(dir)).toThrow(new RegExp(`in use by process ${breaker.pid} \\(sleep 30\\)`));
      expect(fs.readFileSync(lock(), 'utf8')).toBe(stale); // not removed under the breaker
    } finally {
      breaker.kill('SIGKILL');
      await new Promise((resolve) => breaker.once('exit', resolve));
    }
    const release = lockDir(dir); // the breaker died: its token is passed over
    release();
    expect(lockFiles(dir)).toEqual([]);
  });
});
