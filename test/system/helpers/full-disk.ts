/**
 * A directory whose writes fail with ENOSPC after a few kilobytes: a real full disk where the machine
 * allows it — a tiny tmpfs, mounted for the test (the suite runs as root) — and where it does not
 * (mount refused: no CAP_SYS_ADMIN, a container without it), an injected fault: a preload module
 * (enospc-preload.js) makes the child's writes to outbox segments fail with ENOSPC past the same
 * size. The fault travels the same path either way (fs.writeSync throws, the outbox stops).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FullDisk {
  dir: string;
  /** How the fault is produced, for the test's messages. */
  kind: 'tmpfs' | 'injected';
  /** Environment for the child process (the preload when injected). */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

const PRELOAD = fileURLToPath(new URL('./enospc-preload.js', import.meta.url));

export function fullDisk(bytes: number): FullDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return {
      dir,
      kind: 'tmpfs',
      env: {},
      remove() {
        execFileSync('umount', [dir]);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch {
    return {
      dir,
      kind: 'injected',
      env: { NODE_OPTIONS: `--import=${PRELOAD}`, ENOSPC_AFTER_BYTES: String(bytes) },
      remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
}
