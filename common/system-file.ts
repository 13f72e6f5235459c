/**
 * `<data-dir>/system.json`: where a running system serves, written when it starts and marked
 * stopped when it stops, so the tools (`npm run sql`, `verify`, `report`) find a system started on
 * any ports without being told, and say clearly when none runs. Flags and variables still win.
 *
 * A process that dies without stopping leaves `state: "running"` behind; readers check that its
 * pid is alive. The file is replaced atomically (write + rename), so a reader never sees half of it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SpikeError } from './errors.js';

export const SYSTEM_FILE = 'system.json';

/** Every address the system serves; null for what this process does not serve. */
export interface SystemAddresses {
  /** The database's HTTP API (GET /stats, POST /delay, …). */
  api: string;
  /** The read-only SQL endpoint (POST /query), embedded mode. */
  query: string | null;
  /** ClickHouse's own HTTP interface, read-only, when served. */
  clickhouseHttp: string | null;
}

export interface SystemFile {
  state: 'running' | 'stopped';
  pid: number;
  runId: string;
  /** `npm start` (everything in one process) or `npm run server` (the database alone). */
  kind: 'embedded' | 'server';
  startedAt: string;
  stoppedAt: string | null;
  addresses: SystemAddresses;
}

/** No running system was found where a tool looked. The message says where and what to do. */
export class SystemNotRunningError extends SpikeError {
  constructor(message: string) {
    super('NOT_RUNNING', message);
  }
}

function fileOf(dataDir: string): string {
  return path.join(dataDir, SYSTEM_FILE);
}

function write(dataDir: string, content: SystemFile): void {
  mkdirSync(dataDir, { recursive: true });
  const file = fileOf(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n');
  renameSync(tmp, file);
}

/** Records that this process runs and serves `addresses`; returns how to mark it stopped. */
export function announceSystem(
  dataDir: string,
  info: { runId: string; kind: SystemFile['kind']; addresses: SystemAddresses },
): { stopped(): void } {
  const content: SystemFile = {
    state: 'running',
    pid: process.pid,
    ...info,
    startedAt: new Date().toISOString(),
    stoppedAt: null,
  };
  write(dataDir, content);
  return {
    stopped() {
      // Only our own announcement: a newer process on the same directory may have replaced it.
      if (readSystemFile(dataDir)?.pid !== process.pid) return;
      write(dataDir, { ...content, state: 'stopped', stoppedAt: new Date().toISOString() });
    },
  };
}

/** The file as written, or undefined when there is none (or it is unreadable). */
export function readSystemFile(dataDir: string): SystemFile | undefined {
  try {
    return JSON.parse(readFileSync(fileOf(dataDir), 'utf8')) as SystemFile;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The addresses of the system running on `dataDir`, or SystemNotRunningError saying why not
 * (no file, stopped at a time, or a process that died) and how to point the tool elsewhere.
 */
export function runningSystem(dataDir: string, override: string): SystemAddresses {
  const file = readSystemFile(dataDir);
  const where = fileOf(dataDir);
  const otherwise = `start it with \`npm start\`, or give ${override}`;
  if (!file) throw new SystemNotRunningError(`no running system found: ${where} does not exist (${otherwise})`);
  if (file.state === 'stopped') {
    throw new SystemNotRunningError(
      `the system in ${dataDir} is not running: run ${file.runId} stopped at ${file.stoppedAt ?? '?'} (${otherwise})`,
    );
  }
  if (!alive(file.pid)) {
    throw new SystemNotRunningError(
      `the system in ${dataDir} is not running: its process ${file.pid} (run ${file.runId}) is gone without stopping cleanly (${otherwise})`,
    );
  }
  return file.addresses;
}
