/**
 * `npm run eval:estimates -- --json [--minutes M] [--seed S] [--probability-scale K] [--query-count N]
 *   [--metrics-window-ticks W] [--runs R] [--total-method bounds|midpoint] …`: how good are the cost
 * estimates? Simulates the database in virtual time, stores its executions and windows in a fresh
 * embedded ClickHouse (a temporary directory, deleted afterwards), runs the estimator exactly as the
 * periodic job does (R runs spread over the simulation: the incremental path), loads the committed
 * version as the scheduler would, and compares it with the simulation's ground truth: mean absolute
 * error and error percentiles per resource, overall and by observation count, and the coverage of
 * the 95 % intervals. Prints a table, or one JSON object with --json. Bad flags exit 2.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESOURCES } from '../common/contracts.js';
import { exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { decimal, integer, toggle } from '../common/settings.js';
import { createClickHouse } from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { compileSimulationOptions, simulationSettings } from '../server/options.js';
import { scoreEstimates, type AccuracyReport } from './eval/accuracy.js';
import { storedSimulation } from './eval/simulate.js';
import { loadLatestEstimates } from '../clickhouse/estimates.js';
import { ClickHouseEstimatesSink } from './estimates-writer.js';
import { compileEstimatorOptions, estimatorSettings } from './options.js';
import { runEstimation, type RunOutcome } from './run.js';

const evalSettings = {
  minutes: decimal({ flag: '--minutes', default: 10, above: 0, max: 100_000, doc: 'Simulated minutes.' }),
  runs: integer({
    flag: '--runs',
    default: 1,
    min: 1,
    max: 1000,
    doc: 'Estimation runs spread evenly over the simulation (the last one is scored); > 1 exercises the incremental path.',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print one JSON object instead of a table.' }),
};
// The evaluation's data is complete when the estimator runs, so nothing needs to settle.
const evalEstimatorSettings = {
  ...estimatorSettings,
  settleMs: integer({ ...estimatorSettings.settleMs, default: 0 }),
};
const simSettings = { ...simulationSettings };
delete (simSettings as Partial<typeof simulationSettings>).exposeTruth;

const [cli, sim, est] = readCommandLine(
  {
    name: 'eval-estimates',
    description: 'Measure the accuracy of the cost estimates against the simulation’s ground truth.',
  },
  evalSettings,
  simSettings,
  evalEstimatorSettings,
);

let simulation;
try {
  simulation = compileSimulationOptions(
    { ...sim, exposeTruth: true },
    { startTick: 0, startTime: Date.UTC(2026, 0, 1) },
  );
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
const estimator = compileEstimatorOptions(est);
const ticks = Math.max(1, Math.round((cli.minutes * 60_000) / simulation.tickMs));
const database = 'spike_eval';
const dataPath = mkdtempSync(join(tmpdir(), 'spike-eval-'));
const client = createClickHouse({ kind: 'embedded', dataPath });
try {
  await migrate(client, { database });
  const sink = new ClickHouseEstimatesSink(client, database);
  const simulated = storedSimulation({ client, database, simulation });
  let outcome: RunOutcome | undefined;
  let estimateMs = 0;
  // One database, simulated in R segments with an estimation run after each.
  for (let i = 0; i < cli.runs; i++) {
    await simulated.advance(Math.round(((i + 1) * ticks) / cli.runs) - Math.round((i * ticks) / cli.runs));
    const t0 = performance.now();
    outcome = await runEstimation({ client, database, estimator, sink, logger: silentLogger });
    estimateMs += performance.now() - t0;
  }
  const counts = simulated.counts();
  const latest = await loadLatestEstimates(client, database);
  if (!latest || !outcome || outcome.status !== 'committed') {
    process.stderr.write('error: the simulation produced no window with executions: nothing to estimate\n');
    process.exitCode = 1;
  } else {
    const accuracy = scoreEstimates(latest, simulated.truth);
    const s = outcome.result.solution;
    const report = {
      config: {
        seed: simulation.seed,
        minutes: cli.minutes,
        ticks,
        queryCount: simulation.queryCount,
        probabilityScale: simulation.probabilityScale,
        metricsWindowTicks: simulation.metricsWindowTicks,
        runs: cli.runs,
        estimator,
      },
      data: { executions: counts.executions, windows: counts.windows },
      ...accuracy,
      model: {
        version: latest.version,
        method: latest.method,
        windowsUsed: s.windows,
        inconsistentWindows: s.inconsistentWindows,
        noiseSd: s.noise.sd,
        truncationSd: s.noise.truncationSd,
        prior: s.prior,
        clamped: s.clamped,
        solver: s.solver,
        blocks: outcome.result.blocks,
      },
      timingsMs: {
        simulate: counts.simulateMs,
        store: counts.storeMs,
        estimate: estimateMs,
        lastRun: {
          collect: outcome.result.timings.collectMs,
          solve: outcome.result.timings.solveMs,
          solveCpu: outcome.result.timings.solveCpuMs,
        },
      },
    };
    process.stdout.write(cli.json ? JSON.stringify(report, roundNumbers) + '\n' : table(accuracy, report.config));
  }
} finally {
  await client.close();
  rmSync(dataPath, { recursive: true, force: true });
}

/** Four significant decimals; NaN and infinities (no data) become null. */
function roundNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return Number.isInteger(value) ? value : Number(value.toFixed(4));
}

function fmt(v: number | null, digits = 2): string {
  return v === null ? '–' : v.toFixed(digits);
}

function table(
  a: AccuracyReport,
  config: { seed: string; minutes: number; queryCount: number; probabilityScale: number },
): string {
  const lines = [
    `seed ${config.seed}, ${config.minutes} min, ${config.queryCount} queries, probability scale ${config.probabilityScale}`,
    `queries estimated ${a.queriesEstimated}/${a.queries}, well observed (≥ 30 executions) ${a.queriesWellObserved}`,
    `MAE well observed: ${RESOURCES.map((r) => `${r} ${fmt(a.maeWellObserved[r], 3)}`).join(', ')}`,
    `95 % coverage: all ${fmt(a.coverage95, 3)}, estimated ${fmt(a.coverage95Estimated, 3)}, well observed ${fmt(a.coverage95WellObserved, 3)}`,
    `(estimate − truth)/sd RMS over estimated queries: ${fmt(a.normalisedErrorRms, 3)} (1 = calibrated)`,
    '',
    'observations  queries  ' + RESOURCES.map((r) => `${r.padEnd(6)} mae/p50/p90/p99`.padEnd(30)).join('') + 'coverage',
  ];
  for (const [name, g] of [...Object.entries(a.byObservations), ['all', a.overall] as const]) {
    const cells = RESOURCES.map((r) => {
      const e = g.errors[r];
      return `${fmt(e.mae)}/${fmt(e.p50)}/${fmt(e.p90)}/${fmt(e.p99)}`.padEnd(30);
    }).join('');
    lines.push(`${name.padEnd(14)}${String(g.queries).padEnd(9)}${cells}${fmt(g.coverage95, 3)}`);
  }
  return lines.join('\n') + '\n';
}
