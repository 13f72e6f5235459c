/**
 * `npx tsx scheduler/lab-cli.ts --json [--seed S | --seeds a,b,c] [--seconds N]
 *   [--probability-scale K] [--latency-budget L] [--sweep 0,2,4,8,16] [--vega-out file]
 *   [--estimator product|window-regression]
 *   [--frontier [--frontier-knob latency-budget|target-latency|target-and-budget] [--frontier-settings 2,4,10]]`:
 * the scheduling lab. Runs none, greedy-oracle, policy-oracle and policy-estimated side by side on
 * the same arrivals in virtual time and prints in-band rate, spread ratios, added latency and
 * decision time (a table, or one JSON object with --json). With --frontier it measures the
 * frontier instead (lab/frontier.ts) and writes its Vega-Lite chart. Bad flags exit 2 with a message.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EXIT_FAILURE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { compileSimulationOptions } from '../server/options.js';
import { runFrontier, type FrontierReport } from './lab/frontier.js';
import { frontierSpec } from './lab/frontier-spec.js';
import { labWarmup, runLab, type LabConfig, type LabReport } from './lab/lab.js';
import { sweepSpec } from './lab/report-spec.js';
import {
  estimatorProvider,
  labSettings,
  labSimulationSettings,
  parseFrontierSettings,
  parseLatencies,
  parsePolicies,
  parseSweep,
} from './lab/settings.js';
import { compilePolicyOptions, policySettings } from './options.js';

const [lab, sim, pol] = readCommandLine(
  { name: 'lab', description: 'Compare scheduling policies on the simulated database in virtual time.' },
  labSettings,
  labSimulationSettings,
  policySettings,
);

let report: LabReport | FrontierReport;
try {
  const simulation = compileSimulationOptions(
    { ...sim, seed: lab.seed, exposeTruth: true },
    { startTick: 0, startTime: Date.UTC(2026, 0, 1) },
  );
  const policy = compilePolicyOptions(pol, simulation);
  const ticks = Math.max(1, Math.round((lab.seconds * 1000) / simulation.tickMs));
  const config: LabConfig = {
    simulation,
    seeds: lab.seeds?.split(',') ?? [lab.seed],
    ticks,
    warmupWindows: lab.warmupWindows,
    policy,
    policies: parsePolicies(lab.policies),
    sweep: parseSweep(lab.sweep, simulation.maxDelay),
    sweepLatency: parseLatencies(lab.sweepLatency, policy.latencyBudget),
    costModelProvider: estimatorProvider(lab),
  };
  report = lab.frontier
    ? await runFrontier(
        config,
        lab.frontierKnob,
        parseFrontierSettings(lab.frontierSettings, lab.frontierKnob, policy, simulation.maxDelay),
        labWarmup(config),
      )
    : await runLab(config);
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}

const vegaOut = lab.vegaOut ?? (lab.frontier ? 'reports/frontier.vl.json' : undefined);
if (vegaOut !== undefined) {
  try {
    const spec = 'rows' in report ? frontierSpec(report) : sweepSpec(report);
    mkdirSync(dirname(vegaOut), { recursive: true });
    writeFileSync(vegaOut, JSON.stringify(spec, roundNumbers, 2) + '\n');
  } catch (error) {
    process.stderr.write(`error: cannot write ${vegaOut}: ${(error as Error).message}\n`);
    process.exit(EXIT_FAILURE);
  }
}

if (lab.json) {
  process.stdout.write(JSON.stringify(report, roundNumbers) + '\n');
} else {
  process.stdout.write('rows' in report ? frontierTable(report) : table(report));
}

function frontierTable(r: FrontierReport): string {
  const c = r.config;
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
  const lines = [
    `frontier: seeds ${c.seeds.join(',')}, ${c.seconds} s each, probability scale ${c.probabilityScale}, ${c.queryCount} queries, ` +
      `knob ${c.knob}, estimator ${c.estimator}; count ratio λ ${r.bound.countRatio.map((x) => (x === null ? '-' : x.toFixed(3))).join(', ')}`,
    '',
    'setting  budget  target  policy            in band  max/avg p95  min/avg p50  latency mean  p99   max   bound@budget  bound@budget+mean',
  ];
  for (const x of r.rows) {
    lines.push(
      [
        String(x.setting).padStart(7),
        String(x.latencyBudget).padStart(7),
        f(x.targetLatency, 1).padStart(7),
        ' ' + x.name.padEnd(17),
        pct(x.inBandRate),
        f(x.maxAvgP95).padStart(11),
        f(x.minAvgP50).padStart(12),
        f(x.addedLatencyMean, 2).padStart(13),
        String(x.addedLatencyP99).padStart(5),
        String(x.addedLatencyMax).padStart(5),
        pct(x.boundAtBudget).padStart(13),
        pct(x.boundAtMeanLatency).padStart(18),
      ].join(' '),
    );
  }
  lines.push('', `bound against mean added latency at budget ${r.bound.curve[0]?.latencyBudget}:`);
  for (const p of r.bound.curve) lines.push(`  mean ≤ ${f(p.meanLatency, 2).padStart(7)}  ${pct(p.inBandRate)}`);
  return lines.join('\n') + '\n';
}

/** Four significant decimals are plenty and keep the JSON readable; NaN (no data) becomes null. */
function roundNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return Number.isInteger(value) ? value : Number(value.toFixed(4));
}

function table(r: LabReport): string {
  const c = r.config;
  const lines = [
    `lab: seeds ${c.seeds.join(',')}, ${c.seconds} s (${c.ticks} ticks) each, probability scale ${c.probabilityScale}, ` +
      `${c.queryCount} queries, default delay ${c.defaultDelay}, window ${c.metricsWindowTicks} ticks, budget ${c.latencyBudget}, ` +
      `estimator ${c.estimator}; skipped ${c.warmupWindows} warm-up window(s); ${c.pooling}`,
    '',
    'policy            in band  max/avg p50  p95    min/avg p5  p50    latency mean  p99   µs/event  decisions/exec',
  ];
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  for (const p of r.policies) {
    lines.push(
      [
        p.name.padEnd(17),
        `${(100 * p.inBandRate).toFixed(1).padStart(6)} %`,
        f(p.maxAvgP50).padStart(11),
        f(p.maxAvgP95).padStart(6),
        f(p.minAvgP5).padStart(11),
        f(p.minAvgP50).padStart(6),
        f(p.addedLatencyMean, 2).padStart(13),
        String(p.addedLatencyP99).padStart(5),
        f(p.decisionMicrosPerEvent, 1).padStart(9),
        f(p.decisionsPerExecution, 2).padStart(15),
      ].join(' '),
    );
  }
  if (r.sweep.length) {
    lines.push(
      '',
      'sweep:            budget  target  policy            in band  max/avg p95  min/avg p50  latency mean',
    );
    for (const s of r.sweep) {
      lines.push(
        `  ${s.sweep.padEnd(15)} ${String(s.latencyBudget).padStart(6)}  ${String(s.targetLatency).padStart(6)}  ${s.name.padEnd(17)} ${(100 * s.inBandRate).toFixed(1).padStart(6)} %  ${f(s.maxAvgP95).padStart(11)}  ${f(s.minAvgP50).padStart(11)}  ${f(s.addedLatencyMean, 2).padStart(12)}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
