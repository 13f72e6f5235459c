/**
 * `npm run sim -- --seed 7 --ticks 36000 --out run.jsonl`: the simulated database in virtual time,
 * with no services, writing every event as one JSON line (queued, executed, window; with --truth a
 * first `catalog` line holding the true costs). Progress goes to stderr, events to --out or stdout.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { Database } from './database.js';
import { compileSimulationOptions, simCliSettings, simulationSettings } from './options.js';

const [sim, cli] = readCommandLine(
  { name: 'sim', description: 'Run the simulated database in virtual time and write its events as JSON Lines.' },
  simulationSettings,
  simCliSettings,
);

let db: Database;
try {
  db = new Database(compileSimulationOptions(sim, { startTick: 0, startTime: cli.startTime }));
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

const out: Writable = cli.out === '-' ? process.stdout : createWriteStream(cli.out);
let broken = false;
out.on('error', (err: NodeJS.ErrnoException) => {
  // A closed pipe (`| head`) is a normal way to stop reading; anything else is a failure.
  if (err.code !== 'EPIPE') {
    process.stderr.write(`error: cannot write ${cli.out}: ${err.message}\n`);
    process.exit(EXIT_FAILURE);
  }
  broken = true;
});

let buffer: string[] = [];
let buffered = 0;
const push = (event: object) => {
  const line = JSON.stringify(event);
  buffer.push(line);
  buffered += line.length + 1;
};
db.hooks.queued.add(push);
db.hooks.executed.add(push);
db.hooks.window.add(push);

async function flush(): Promise<void> {
  if (buffer.length === 0) return;
  const chunk = buffer.join('\n') + '\n';
  buffer = [];
  buffered = 0;
  if (!out.write(chunk) && !broken) await once(out, 'drain');
}

const started = performance.now();
const log = (msg: string) => {
  if (!cli.quiet) process.stderr.write(msg + '\n');
};
log(
  `sim: seed ${db.options.seed}, ${cli.ticks} ticks, ${db.options.queryCount} queries, probability scale ${db.options.probabilityScale}`,
);
if (db.options.exposeTruth) push({ type: 'catalog', queries: db.groundTruth() });

let lastProgress = started;
const CHUNK = 500;
for (let t = 0; t < cli.ticks && !broken; t += CHUNK) {
  db.run(Math.min(CHUNK, cli.ticks - t));
  if (buffered > 1 << 20) await flush();
  const now = performance.now();
  if (now - lastProgress > 1000) {
    lastProgress = now;
    log(`sim: tick ${db.currentTick}/${cli.ticks} (${((100 * db.currentTick) / Math.max(1, cli.ticks)).toFixed(0)} %)`);
  }
}
await flush();
if (out !== process.stdout) {
  out.end();
  await once(out, 'finish');
}
const s = db.stats();
log(
  `sim: done in ${((performance.now() - started) / 1000).toFixed(2)} s: ${s.ticks} ticks, ${s.queuedTotal} queued, ${s.executedTotal} executed, ${s.windowsTotal} windows, ${s.queueLength} still queued`,
);
