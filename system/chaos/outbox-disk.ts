/**
 * The server's outbox directory for the chaos run's `disk-full` fault: a small filesystem of its own
 * that the harness fills up on demand and frees again. Where the machine allows mounting (the run
 * is root, or has CAP_SYS_ADMIN) it is a real tmpfs of `bytes`, filled with a filler file until the
 * kernel answers ENOSPC: the server's next outbox or ledger write then fails as on a full disk.
 * Where mounting is refused, an injected fault: a preload module (enospc-switch.js) makes the
 * server's writes to outbox segments and ledger files fail with ENOSPC while a flag file exists. The
 * failure travels the same path either way (fs.writeSync throws, the tick fails, the server stops).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OutboxDisk {
  dir: string;
  kind: 'tmpfs' | 'injected';
  /** Environment for the server process (the preload when injected). */
  env: Record<string, string>;
  /** Fills the filesystem: every write from now on fails with ENOSPC. */
  fill(): void;
  /** Frees the space the fill took. */
  free(): void;
  /** Unmounts (the server must have stopped); the directory itself stays for the logs. */
  remove(): void;
}

const PRELOAD = fileURLToPath(new URL('./enospc-switch.js', import.meta.url));

export function outboxDisk(dir: string, bytes: number): OutboxDisk {
  fs.mkdirSync(dir, { recursive: true });
  const filler = path.join(dir, 'disk-filler');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    const flag = path.join(path.dirname(dir), 'outbox-disk-full.flag');
    return {
      dir,
      kind: 'injected',
      env: { NODE_OPTIONS: `--import=${PRELOAD}`, CHAOS_DISK_FULL_FLAG: flag },
      fill: () => fs.writeFileSync(flag, ''),
      free: () => fs.rmSync(flag, { force: true }),
      remove: () => fs.rmSync(flag, { force: true }),
    };
  }
  return {
    dir,
    kind: 'tmpfs',
    env: {},
    fill() {
      const fd = fs.openSync(filler, 'a');
      try {
        // Large blocks first, then single pages, until the kernel says the filesystem is full.
        for (const size of [1 << 20, 4096]) {
          const block = Buffer.alloc(size);
          for (;;) {
            try {
              fs.writeSync(fd, block);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    free: () => fs.rmSync(filler, { force: true }),
    remove() {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
    },
  };
}
