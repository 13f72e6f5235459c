/**
 * `npm run bench:history -- --json --hours H --probability-scale K [--runs R] [--query-count N]`:
 * does the product's periodic work stay flat as history grows? Builds H hours of history in virtual
 * time in a fresh embedded ClickHouse (a temporary directory, deleted afterwards) through the
 * product's own tables and migrations (bench/history-data.ts: INSERT … SELECT, the ingest's row
 * format), runs the periodic analysis once to catch up (as a first start on that history would),
 * then R times with 30 s of new data (in virtual time) inserted before each run, exactly as the job
 * runs it (run.ts, minus the Redis lock), and writes the report over the whole history
 * (`lastMinutes` 0) through the read-only path, as the job's `afterRun` does.
 *
 * Prints one JSON object (or a short table): executions, windows, periodicRunMs p50/p99/max and
 * periodicRunCpuMs (the process's CPU time: ClickHouse's threads included; not inflated by other
 * processes on a shared machine), each run's steps, the catch-up run, reportMs and reportBytes (the process's first
 * report, which also loads the chart libraries) and reportWarmMs (the next one), clickhouseBytes (bytes on disk of
 * the database's active parts), peakRssMb (the process's peak resident set: chDB runs in-process, so
 * ClickHouse's memory is in it too; the build's peak included) and rssMbByPhase (the largest RSS
 * sampled every 50 ms during the build, the catch-up run, the measured runs and the report).
 *
 * Before the measured runs it waits until ClickHouse's background merges of the freshly built
 * history are done (`settleMs`): a live database wrote that history over hours and merged it as it
 * went, while here it was written in seconds, and its merges, in-process, would otherwise be timed
 * as part of the runs. Merges of the new data inserted between runs are not waited for (live ones
 * happen too); `mergesDuringRuns` counts the runs that started with one going. `--profile` adds
 * `profile`: per statement over the measured runs, its calls, wall and process CPU time
 * (statement-profile.ts). Exit 0 done, 1 failure, 2 bad flag.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { decimal, integer, toggle } from '../common/settings.js';
import { createClickHouse } from '../clickhouse/client.js';
import { migrate } from '../clickhouse/migrate.js';
import { openDirectReadOnly } from '../clickhouse/query-client.js';
import { readOnlyOptions } from '../clickhouse/read-only.js';
import { createCatalog, insertTicks, TICK_MS, type HistoryShape } from './bench/history-data.js';
import { profileClient, type StatementTiming } from './bench/statement-profile.js';
import { ClickHouseEstimatesSink } from './estimates-writer.js';
import { compileEstimatorOptions, estimatorSettings } from './options.js';
import { writeReportFiles } from './reports/write-reports.js';
import { runEstimation, type RunOutcome } from './run.js';

const benchSettings = {
  hours: decimal({ flag: '--hours', default: 1, above: 0, max: 24 * 31, doc: 'Hours of history to build.' }),
  probabilityScale: decimal({
    flag: '--probability-scale',
    default: 10,
    above: 0,
    max: 1000,
    doc: 'Load: expected executions per tick are 1.43 × this (scale 10 ≈ 514 k executions per hour).',
  }),
  queryCount: integer({ flag: '--query-count', default: 100, min: 1, max: 100_000, doc: 'Queries in the catalog.' }),
  runs: integer({ flag: '--runs', default: 12, min: 10, max: 1000, doc: 'Periodic runs measured (≥ 10).' }),
  intervalSeconds: integer({
    flag: '--interval-seconds',
    default: 30,
    min: 1,
    max: 3600,
    doc: 'Virtual seconds of new data inserted before each measured run (the job runs every 30 s).',
  }),
  seed: integer({ flag: '--seed', default: 1, min: 0, max: 2 ** 31, doc: 'Seed of the generated history.' }),
  json: toggle({ flag: '--json', default: false, doc: 'Print one JSON object instead of a table.' }),
  profile: toggle({
    flag: '--profile',
    default: false,
    doc: 'Time every statement of the measured runs (wall and CPU) and print the costliest.',
  }),
};

let cli, est;
try {
  [cli, est] = readCommandLine(
    { name: 'bench-history', description: 'Cost of the periodic analysis and the report as history grows.' },
    benchSettings,
    estimatorSettings,
  );
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  throw error;
}
const estimator = compileEstimatorOptions(est);
const database = 'spike_bench';
const shape: HistoryShape = {
  database,
  queryCount: cli.queryCount,
  probabilityScale: cli.probabilityScale,
  seed: cli.seed,
};
const log = (msg: string) => process.stderr.write(`[bench:history] ${msg}\n`);
const dataPath = mkdtempSync(join(tmpdir(), 'spike-bench-history-'));
const client = createClickHouse({ kind: 'embedded', dataPath });

const HOUR_TICKS = 3_600_000 / TICK_MS;
const historyTicks = Math.round((cli.hours * HOUR_TICKS) / 10) * 10;
const stepTicks = (cli.intervalSeconds * 1000) / TICK_MS;
// History ends where the measured runs' data starts, which ends about now.
const endTick = Math.floor(Date.now() / TICK_MS / 10) * 10 - cli.runs * stepTicks;
const startTick = endTick - historyTicks;

/** The largest RSS sampled per phase (every 50 ms). */
const phaseRss = { build: 0, catchUp: 0, runs: 0, report: 0 };
let phase: keyof typeof phaseRss = 'build';
const sampleRss = () => (phaseRss[phase] = Math.max(phaseRss[phase], process.memoryUsage().rss));
const sampler = setInterval(sampleRss, 50);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const round = (x: number) => Math.round(x);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Background merges of the database going on now. */
async function mergesRunning(): Promise<number> {
  const [row] = await (
    await client.query({
      query: `SELECT count() AS n FROM system.merges WHERE database = {database:String}`,
      query_params: { database },
      format: 'JSONEachRow',
    })
  ).json<{ n: number | string }>();
  return Number(row?.n ?? 0);
}
/** Waits (at most `capMs`) until no merge of the database runs; returns how long it waited. */
async function settleMerges(capMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < capMs && (await mergesRunning()) > 0) await sleep(500);
  return performance.now() - t0;
}

try {
  await migrate(client, { database });
  await createCatalog(client, shape);
  const buildStart = performance.now();
  for (let t = startTick; t < endTick; t += HOUR_TICKS) {
    await insertTicks(client, shape, t, Math.min(t + HOUR_TICKS, endTick), true);
    log(`history: ${Math.round(((t - startTick) / historyTicks) * 100)} %`);
  }
  const buildMs = performance.now() - buildStart;
  const profiled = profileClient(client);
  const runClient = cli.profile ? profiled.client : client;
  const sink = new ClickHouseEstimatesSink(runClient, database);
  const run = () => runEstimation({ client: runClient, database, estimator, sink, logger: silentLogger });
  sampleRss();
  phase = 'catchUp';
  const t0 = performance.now();
  const first = await run();
  const catchUpMs = performance.now() - t0;
  log(`catch-up run: ${round(catchUpMs)} ms`);

  const settleMs = await settleMerges(15 * 60_000);
  log(`merges settled: ${round(settleMs)} ms`);
  profiled.take();

  sampleRss();
  phase = 'runs';
  let mergesDuringRuns = 0;
  const runs: { ms: number; cpuMs: number; outcome: RunOutcome }[] = [];
  for (let i = 0; i < cli.runs; i++) {
    const from = endTick + i * stepTicks;
    await insertTicks(client, shape, from, from + stepTicks, false);
    // Live, the job runs 30 s after the previous run, so the rows inserted before it are older than
    // the insert margin by then; here they were inserted a moment ago. Waiting out the margin keeps
    // the run from looking at them twice, as it would not live (not measured).
    await sleep(estimator.insertMarginMs + 200);
    if ((await mergesRunning()) > 0) mergesDuringRuns++;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const outcome = await run();
    const used = process.cpuUsage(cpu0);
    runs.push({ ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, outcome });
    log(`run ${i + 1}/${cli.runs}: ${round(runs[runs.length - 1]!.ms)} ms`);
  }
  const profile: StatementTiming[] = profiled.take().map((p) => ({
    ...p,
    wallMs: round(p.wallMs),
    cpuMs: round(p.cpuMs),
  }));
  const reports = await openDirectReadOnly({
    target: { kind: 'embedded', dataPath },
    options: readOnlyOptions({ sessions: 1 }),
    logger: silentLogger,
  });
  const outDir = mkdtempSync(join(tmpdir(), 'spike-bench-report-'));
  sampleRss();
  phase = 'report';
  let report;
  // --profile: each report statement's wall time (they run concurrently, so the times overlap).
  const reportStatements: { statement: string; ms: number }[] = [];
  const reportQuery = async (sql: string) => {
    const t0 = performance.now();
    try {
      return await reports.query(sql);
    } finally {
      reportStatements.push({
        statement: sql.replace(/\s+/g, ' ').trim().slice(0, 80),
        ms: round(performance.now() - t0),
      });
    }
  };
  // Twice: the first report of a process also loads and compiles the chart libraries (Vega,
  // Vega-Lite); the analysis job writes one after every run, so from its second on it pays the second's.
  const writeReport = async (query: (sql: string) => ReturnType<typeof reports.query>) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const written = await writeReportFiles({ query, database, outDir, options: { lastMinutes: 0 } });
    const cpu = process.cpuUsage(cpu0);
    return { written, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  let cold, warm;
  try {
    cold = await writeReport((sql) => reports.query(sql));
    warm = await writeReport(cli.profile ? reportQuery : (sql) => reports.query(sql));
    report = warm.written;
  } finally {
    await reports.close();
  }
  sampleRss();
  const reportBytes = statSync(report.html).size;
  rmSync(outDir, { recursive: true, force: true });

  const [size] = await (
    await client.query({
      query: `SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = {database:String} AND active`,
      query_params: { database },
      format: 'JSONEachRow',
    })
  ).json<{ bytes: number | string }>();
  const [counts] = await (
    await client.query({
      query: `SELECT (SELECT count() FROM ${database}.executions) AS executions, (SELECT count() FROM ${database}.windows) AS windows`,
      format: 'JSONEachRow',
    })
  ).json<{ executions: number | string; windows: number | string }>();
  const ms = runs.map((r) => r.ms);
  const cpuMs = runs.map((r) => r.cpuMs);
  const steps = runs.map((r) =>
    r.outcome.status === 'committed'
      ? {
          ms: round(r.ms),
          cpuMs: round(r.cpuMs),
          blocksComputed: r.outcome.result.blocks.computed,
          collect: round(r.outcome.result.timings.collectMs),
          solve: round(r.outcome.result.timings.solveMs),
          ...Object.fromEntries(Object.entries(r.outcome.result.timings.steps).map(([k, v]) => [k, round(v)])),
        }
      : { ms: round(r.ms), status: r.outcome.status },
  );
  const result = {
    config: {
      hours: cli.hours,
      probabilityScale: cli.probabilityScale,
      queryCount: cli.queryCount,
      runs: cli.runs,
      intervalSeconds: cli.intervalSeconds,
      seed: cli.seed,
      estimator,
    },
    executions: Number(counts!.executions),
    windows: Number(counts!.windows),
    buildMs: round(buildMs),
    catchUpRunMs: round(catchUpMs),
    settleMs: round(settleMs),
    mergesDuringRuns,
    catchUpBlocks: first.status === 'committed' ? first.result.blocks : null,
    periodicRunMs: { p50: round(quantile(ms, 0.5)), p99: round(quantile(ms, 0.99)), max: round(Math.max(...ms)) },
    // CPU time of the whole process during a run: chDB runs in-process, so ClickHouse's threads count
    // too; unlike the wall time, it does not grow when other processes take the cores.
    periodicRunCpuMs: { p50: round(quantile(cpuMs, 0.5)), p99: round(quantile(cpuMs, 0.99)) },
    runs: steps,
    reportMs: round(cold.ms),
    reportCpuMs: round(cold.cpuMs),
    reportWarmMs: round(warm.ms),
    reportWarmCpuMs: round(warm.cpuMs),
    reportBytes,
    reportWindows: report.report.summary.range.windows,
    clickhouseBytes: Number(size!.bytes),
    peakRssMb: round(process.resourceUsage().maxRSS / 1024),
    // The machine is shared: its load while this ran, for reading the times.
    machine: { cores: cpus().length, loadAverage1m: Number(loadavg()[0]!.toFixed(1)) },
    rssMbByPhase: Object.fromEntries(Object.entries(phaseRss).map(([k, v]) => [k, round(v / 2 ** 20)])),
    ...(cli.profile
      ? { profile: profile.slice(0, 15), reportStatements: reportStatements.sort((a, b) => b.ms - a.ms) }
      : {}),
  };
  if (cli.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(
      [
        `${cli.hours} h at scale ${cli.probabilityScale}: ${result.executions} executions, ${result.windows} windows`,
        `periodic run p50 ${result.periodicRunMs.p50} ms, p99 ${result.periodicRunMs.p99} ms (catch-up ${result.catchUpRunMs} ms)`,
        `report ${result.reportMs} ms (the next one ${result.reportWarmMs} ms), ${result.reportBytes} bytes; ClickHouse ${result.clickhouseBytes} bytes`,
        `peak RSS ${result.peakRssMb} MB (by phase: ${JSON.stringify(result.rssMbByPhase)})`,
      ].join('\n') + '\n',
    );
  }
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  clearInterval(sampler);
  await client.close();
  rmSync(dataPath, { recursive: true, force: true });
}
