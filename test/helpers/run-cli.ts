/**
 * Runs one of the project's TypeScript entry points as a child process, as its npm script does: from
 * the repository root, with the caller's environment on top of this one. The code is compiled once
 * per run (system/cli-bundles.ts); the command line, environment and signals are what the script gets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliCommand } from '../../system/cli-bundles.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `spawn(...cliArgv(entry, args), options)`: the program and arguments that start `entry`. */
export function cliArgv(entry: string, args: string[]): [string, string[]] {
  const { file, args: head } = cliCommand(ROOT, entry);
  return [file, [...head, ...args]];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(...cliArgv(entry, args), { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running entry point; the caller stops it. */
export function startCli(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(...cliArgv(entry, args), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
