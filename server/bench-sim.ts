/**
 * `npm run bench:sim -- [--ticks 36000] [--runs 5]`: how fast the engine simulates in virtual time.
 * Prints JSON: the median wall time to simulate `ticks` ticks at defaults and at probability
 * scale 10, with every event serialised (as `npm run sim` does, without the disk).
 */
import { readCommandLine } from '../common/cli.js';
import { integer } from '../common/settings.js';
import { Database } from './database.js';
import { simulationOptions } from './options.js';

const benchSimSettings = {
  ticks: integer({ flag: '--ticks', default: 36_000, min: 1, max: 100_000_000, doc: 'Ticks per run.' }),
  runs: integer({ flag: '--runs', default: 5, min: 1, max: 1000, doc: 'Runs per setting (the median is reported).' }),
};
const [{ ticks, runs }] = readCommandLine(
  { name: 'bench:sim', description: 'How fast the engine simulates in virtual time.' },
  benchSimSettings,
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function once(probabilityScale: number): { ms: number; events: number; bytes: number } {
  const db = new Database(simulationOptions({ seed: 'bench', probabilityScale }));
  let events = 0;
  let bytes = 0;
  const sink = (e: object) => {
    events++;
    bytes += JSON.stringify(e).length;
  };
  db.hooks.queued.add(sink);
  db.hooks.executed.add(sink);
  db.hooks.window.add(sink);
  const t0 = performance.now();
  db.run(ticks);
  // `bytes` keeps the serialisation from being optimised away.
  return { ms: performance.now() - t0, events, bytes };
}

const result: Record<string, unknown> = { ticks, runs };
for (const scale of [1, 10]) {
  const samples = Array.from({ length: runs }, () => once(scale));
  result[`probabilityScale${scale}`] = {
    medianMs: Math.round(median(samples.map((s) => s.ms))),
    events: samples[0]!.events,
    ticksPerSecond: Math.round(ticks / (median(samples.map((s) => s.ms)) / 1000)),
  };
}
process.stdout.write(JSON.stringify(result) + '\n');
