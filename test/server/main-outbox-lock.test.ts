/**
 * Two `npm run server` processes started at the same moment on one outbox directory: one runs, the
 * other exits 1 with one line naming the directory and the holder. A server killed with SIGKILL
 * leaves its lock behind, and that does not block the next start. (The same race at the level of
 * the lock, in the same millisecond and for many rounds: capture/dir-lock.test.ts.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, removePrefixAndQuit } from '../helpers/shared-redis.js';
import { ROOT, cliArgv } from '../helpers/run-cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'server-lock-'));
const prefix = `test-server-lock-${process.pid}`;
afterAll(async () => {
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  fs.rmSync(work, { recursive: true, force: true });
});

/** server/main.ts as node runs it (no wrapper process, so the pid is the lock holder's). */
function server(outboxDir: string) {
  const child = spawn(...cliArgv('server/main.ts', ['--port', '0', '--outbox-dir', outboxDir, '--data-dir', work]), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', REDIS_PREFIX: prefix },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, running: () => stderr.includes('"msg":"database running"') };
}

type Server = ReturnType<typeof server>;

/** Resolves once one of the two runs and the other has exited; returns them in that order. */
async function settle(a: Server, b: Server): Promise<[Server, Server]> {
  const exitCodes: (number | null | undefined)[] = [undefined, undefined];
  void a.exited.then((c) => (exitCodes[0] = c));
  void b.exited.then((c) => (exitCodes[1] = c));
  for (let i = 0; i < 600; i++) {
    if (exitCodes[1] !== undefined && a.running()) return [a, b];
    if (exitCodes[0] !== undefined && b.running()) return [b, a];
    if (exitCodes[0] !== undefined && exitCodes[1] !== undefined) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not one running and one exited:\n--- a\n${a.stderr()}\n--- b\n${b.stderr()}`);
}

describe('two servers on one outbox directory', () => {
  it('started together, one runs and the other exits 1 naming the directory and the holder; a SIGKILLed holder does not block the next start', async () => {
    const dir = path.join(work, 'outbox');
    const lock = path.join(dir, 'outbox.lock');
    for (const [round, stop] of (['SIGKILL', 'SIGTERM', 'SIGKILL', 'SIGTERM'] as const).entries()) {
      // Rounds 1 and 3 start on the lock that round 0's and 2's SIGKILLed winner left.
      if (round % 2 === 1) expect(fs.existsSync(lock), `round ${round}`).toBe(true);
      const [winner, loser] = await settle(server(dir), server(dir));
      expect(await loser.exited, loser.stderr()).toBe(1);
      const pid = winner.child.pid!;
      const errors = loser
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('error: '));
      expect(errors, loser.stderr()).toEqual([
        expect.stringContaining(`error: the outbox in ${dir} is in use by process ${pid} (`),
      ]);
      expect(errors[0]).toContain('server/main.ts'); // the holder's command line
      expect(errors[0]).toContain('--outbox-dir');
      expect(loser.stderr()).not.toMatch(/^\s+at /m); // one line, no stack trace
      expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ pid });

      winner.child.kill(stop);
      const code = await winner.exited;
      if (stop === 'SIGTERM') {
        expect(code, winner.stderr()).toBe(0);
        expect(fs.existsSync(lock)).toBe(false); // released on a clean stop
      } else {
        expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ pid }); // left behind
      }
    }
  }, 240_000);
});
