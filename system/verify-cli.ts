/**
 * `npm run verify -- [--json] [--from T] [--to T] [--settle-ms 5000] [--wait-ms 30000]`: checks,
 * against the running system, that every execution and window of a drained tick range is stored
 * exactly once. Retries until complete or `--wait-ms` runs out (records still in flight are not
 * missing yet). Exit code 0 when complete, 1 when not (or unreachable), 2 on bad flags.
 */
import { EXIT_FAILURE, readCommandLine } from '../common/cli.js';
import { SpikeError } from '../common/errors.js';
import { integer, text, toggle } from '../common/settings.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  openReadOnly,
  queryClientSettings,
} from '../clickhouse/index.js';
import { checkCompleteness, isComplete, type CompletenessReport } from './verify.js';

const verifySettings = {
  apiUrl: text({
    flag: '--api-url',
    env: 'API_URL',
    default: 'http://127.0.0.1:8080',
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'The database API of the running system.',
  }),
  from: integer({
    flag: '--from',
    default: -1,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'First tick (default: the run’s first).',
  }),
  to: integer({
    flag: '--to',
    default: -1,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'Last tick (default: settle-ms before the latest).',
  }),
  settleMs: integer({
    flag: '--settle-ms',
    default: 5000,
    min: 0,
    max: 3_600_000,
    doc: 'Leave out the last ms of ticks: still in flight.',
  }),
  waitMs: integer({
    flag: '--wait-ms',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: 'Retry until complete for up to this long.',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print one JSON object.' }),
};

const [v, ch, qc] = readCommandLine(
  { name: 'verify', description: 'Check that every execution and window is stored exactly once.' },
  verifySettings,
  clickhouseSettings,
  queryClientSettings,
);
const chOptions = compileClickHouseOptions(ch);
const queries = openReadOnly({ target: chOptions.target, queryUrl: qc.queryUrl });

const deadline = Date.now() + v.waitMs;
let report: CompletenessReport;
try {
  for (;;) {
    report = await checkCompleteness({
      apiUrl: v.apiUrl,
      queries,
      database: chOptions.database,
      settleMs: v.settleMs,
      ...(v.from >= 0 ? { from: v.from } : {}),
      ...(v.to >= 0 ? { to: v.to } : {}),
    });
    if (isComplete(report) || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
} catch (err) {
  process.stderr.write(`error: ${err instanceof SpikeError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_FAILURE);
} finally {
  await queries.close();
}
if (v.json) process.stdout.write(JSON.stringify(report) + '\n');
else {
  const r = report;
  process.stdout.write(
    [
      `ticks ${r.from}..${r.to}`,
      `executions: ${r.stored} stored of ${r.executedByDatabase} executed (${r.missing} missing, ${r.duplicatesCounted} counted twice, ${r.duplicateRows} duplicate rows not merged yet)`,
      `windows: ${r.windowsStored} stored of ${r.windowsByDatabase}`,
      `completeness: ${r.completeness}${isComplete(r) ? ' — complete' : ' — INCOMPLETE'}`,
    ].join('\n') + '\n',
  );
}
process.exit(isComplete(report) ? 0 : EXIT_FAILURE);
