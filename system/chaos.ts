/**
 * `npm run chaos -- [--json] [--minutes M] [--seed S] [--tick-ms T] …`: the whole system as separate
 * processes with faults injected on a seeded schedule (system/chaos/run.ts); at the end, once the
 * pipeline has drained, completeness over every run of the server, duplicates counted, windows by
 * the database and stored, how soon each fault's components were healthy again, and the scheduler's
 * hit rate and the in-band rate before, during and after the faults, and outside and inside them.
 *
 * Exit codes: 0 when every execution and window of the run is stored and nothing is counted twice;
 * 1 otherwise (or when the run itself failed); 2 on a bad setting.
 */
import { EXIT_FAILURE, readCommandLine } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import { chaosSettings, faultKinds } from './chaos/options.js';
import { formatReport } from './chaos/report.js';
import { runChaos } from './chaos/run.js';

const [s] = readCommandLine(
  {
    name: 'chaos',
    description:
      'Runs the whole system as separate processes, injects faults on a seeded schedule, then checks nothing was lost or counted twice.',
  },
  chaosSettings,
);
const logger = createLogger('chaos', process.env.LOG_LEVEL ?? 'info');

try {
  const report = await runChaos({
    minutes: s.minutes,
    seed: s.seed,
    tickMs: s.tickMs,
    probabilityScale: s.probabilityScale,
    faultIntervalMs: s.faultIntervalS * 1000,
    kinds: faultKinds(s.faults),
    drainTimeoutMs: s.drainTimeoutS * 1000,
    analysisIntervalMs: s.analysisIntervalS * 1000,
    workDir: s.workDir,
    keepWorkDir: s.keepWorkDir,
    logger,
  });
  process.stdout.write(s.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  process.exit(report.ok ? 0 : EXIT_FAILURE);
} catch (err) {
  logger.fatal(
    { err: err instanceof Error ? { name: err.name, message: err.message } : String(err) },
    'chaos run failed',
  );
  process.exit(EXIT_FAILURE);
}
