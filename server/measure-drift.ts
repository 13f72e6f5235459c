/**
 * `npm run measure:drift -- [--seconds 60] [--tick-ms 100]`: runs the real-time driver with the
 * database for a while and prints JSON comparing the tick count with the ideal, at every 10 % of
 * the run, so it shows both the error and whether it grows.
 */
import { readCommandLine } from '../common/cli.js';
import { decimal, integer } from '../common/settings.js';
import { Database } from './database.js';
import { simulationOptions } from './options.js';
import { RealtimeDriver, systemClock } from './realtime-driver.js';

const driftSettings = {
  seconds: decimal({ flag: '--seconds', default: 60, above: 0, max: 86_400, doc: 'How long to run.' }),
  tickMs: integer({ flag: '--tick-ms', default: 100, min: 1, max: 60_000, doc: 'Tick length in milliseconds.' }),
};
const [{ seconds, tickMs }] = readCommandLine(
  { name: 'measure:drift', description: 'Real-time driver drift against the ideal tick count.' },
  driftSettings,
);

const db = new Database(simulationOptions({ seed: 'drift', tickMs }));
const driver = new RealtimeDriver(() => db.tick(), { tickMs });
const t0 = systemClock.now();
driver.start(t0);
const checkpoints: { atMs: number; ticks: number; expected: number; error: number }[] = [];
for (let i = 1; i <= 10; i++) {
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 10));
  const atMs = systemClock.now() - t0;
  const expected = Math.floor(atMs / tickMs) + 1;
  checkpoints.push({ atMs: Math.round(atMs), ticks: driver.ticksRun, expected, error: driver.ticksRun - expected });
}
driver.stop();
const last = checkpoints[checkpoints.length - 1]!;
process.stdout.write(
  JSON.stringify({
    seconds,
    tickMs,
    ticks: last.ticks,
    expected: last.expected,
    errorPercent: Number(((100 * Math.abs(last.error)) / last.expected).toFixed(3)),
    worstErrorTicks: Math.max(...checkpoints.map((c) => Math.abs(c.error))),
    worstLagMs: Math.round(driver.worstLagMs),
    checkpoints,
  }) + '\n',
);
