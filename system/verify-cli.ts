/**
 * `npm run verify`: checks that every execution and window of a tick range is stored exactly once.
 * Running system (its API answers: `--api-url`, else the address the system running on
 * `--data-dir` announced in its system.json): the database's counts from its API, for a drained range
 * (`--settle-ms` before its latest tick), retried until complete or `--wait-ms` runs out (records
 * still in flight are not missing yet). Stopped system: the counts from the ledger the server kept on
 * disk (`--ledger-dir`, one file per run; `--run` picks one, default the latest) against ClickHouse
 * opened directly. `--source auto` (default) uses the API when it answers and the ledger otherwise.
 * Exit code 0 when complete, 1 when not (or nothing to check against), 2 on bad flags.
 */
import { EXIT_FAILURE, readCommandLine } from '../common/cli.js';
import { SpikeError } from '../common/errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../common/logger.js';
import { runningSystem, SystemNotRunningError } from '../common/system-file.js';
import { inDataDir, underDataDir } from '../common/data-dir.js';
import {
  clickhouseSettings,
  compileClickHouseOptions,
  openDirectReadOnly,
  openReadOnly,
  queryClientSettings,
  readOnlyOptions,
} from '../clickhouse/index.js';
import { lockDir } from '../server/capture/dir-lock.js';
import { OutboxLockedError } from '../server/capture/index.js';
import { listLedgers, readLedger } from '../server/ledger-file.js';
import {
  ApiUnreachableError,
  checkCompleteness,
  checkStoppedCompleteness,
  isComplete,
  NothingSettledError,
  type CompletenessReport,
  verifySettings,
} from './verify.js';

const [v, ch, qc] = readCommandLine(
  { name: 'verify', description: 'Check that every execution and window is stored exactly once.' },
  verifySettings,
  // Stopped: the data of the system on --data-dir, unless named on its own.
  { ...clickhouseSettings, dataPath: underDataDir(clickhouseSettings.dataPath, 'clickhouse') },
  queryClientSettings,
);
const chOptions = compileClickHouseOptions({ ...ch, dataPath: inDataDir(qc.dataDir, ch.dataPath, 'clickhouse') });
const ledgerDir = v.ledgerDir || path.join(process.env.OUTBOX_DIR || path.join(qc.dataDir, 'outbox'), 'ledger');

/** The running system's check, retried until complete or --wait-ms. */
async function checkRunning(): Promise<CompletenessReport> {
  // The API: --api-url / API_URL, else the one the system running on --data-dir announced.
  const apiUrl = v.apiUrl ?? runningSystem(qc.dataDir, '--api-url / API_URL').api;
  const queries = openReadOnly({ target: chOptions.target, queryUrl: qc.queryUrl, dataDir: qc.dataDir });
  const deadline = Date.now() + v.waitMs;
  try {
    for (;;) {
      let report: CompletenessReport;
      try {
        report = await checkCompleteness({
          apiUrl,
          queries,
          database: chOptions.database,
          settleMs: v.settleMs,
          ...range,
        });
      } catch (err) {
        // A run younger than the settle time has nothing to check yet: wait for it like an incomplete one.
        if (!(err instanceof NothingSettledError) || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (isComplete(report) || Date.now() >= deadline) return report;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await queries.close();
  }
}

/** The stopped system's check: the ledger on disk against ClickHouse opened by this process. */
async function checkStopped(): Promise<CompletenessReport> {
  const files = listLedgers(ledgerDir);
  const file = v.run === 'latest' ? files.at(-1) : files.find((f) => path.basename(f) === `ledger-${v.run}.jsonl`);
  if (!file) {
    throw new SpikeError(
      'NO_LEDGER',
      v.run === 'latest'
        ? `no execution ledger in ${ledgerDir} (set --ledger-dir to the server's ledger directory)`
        : `no run ${v.run} in ${ledgerDir} (runs there: ${files.map((f) => path.basename(f, '.jsonl').slice(7)).join(', ') || 'none'})`,
    );
  }
  // chDB takes one process per data directory: never open it under a running system. Its server
  // holds the outbox lock beside the ledger (the default layout); taking it a moment proves none runs.
  const outboxDir = path.dirname(ledgerDir);
  if (fs.existsSync(path.join(outboxDir, 'outbox.lock'))) {
    try {
      lockDir(outboxDir)();
    } catch (err) {
      if (!(err instanceof OutboxLockedError)) throw err;
      throw new SpikeError(
        'RUNNING',
        `the system is running (process ${err.pid} holds ${outboxDir}): check it through its API (--api-url, --source api)`,
      );
    }
  }
  const ledger = readLedger(file);
  if (!v.json) {
    const state = ledger.ended ? 'stopped cleanly' : 'not ended: still running elsewhere, or killed';
    process.stdout.write(`run ${ledger.run.run} from the ledger ${file} (${state})\n`);
  }
  const queries = await openDirectReadOnly({
    target: chOptions.target,
    options: readOnlyOptions(),
    logger: silentLogger,
  });
  try {
    return await checkStoppedCompleteness({ ledger, queries, database: chOptions.database, ...range });
  } finally {
    await queries.close();
  }
}

const range = { ...(v.from >= 0 ? { from: v.from } : {}), ...(v.to >= 0 ? { to: v.to } : {}) };
let report: CompletenessReport;
try {
  if (v.source === 'ledger') report = await checkStopped();
  else if (v.source === 'api') report = await checkRunning();
  else {
    report = await checkRunning().catch((err: unknown) => {
      const notRunning = err instanceof ApiUnreachableError || err instanceof SystemNotRunningError;
      if (!notRunning || listLedgers(ledgerDir).length === 0) throw err;
      if (!v.json) process.stdout.write(`${(err as Error).message}: checking the stopped system\n`);
      return checkStopped();
    });
  }
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_FAILURE);
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
