/**
 * `npm run sql -- "SELECT …" [--format table|json|csv]`: runs one investigation query against the
 * running system, read-only, and prints the result. The query may also come on stdin
 * (`npm run sql < question.sql`). Either mode, one code path (clickhouse/query-client.ts): with
 * CLICKHOUSE_URL it asks the ClickHouse server directly, otherwise the embedded process's
 * read-only endpoint (QUERY_URL, or the one the system running on --data-dir announced in its
 * system.json), since chDB lets only that process open the data.
 *
 * Exit codes: 0 printed; 2 refused (not a reading statement, or it reaches outside the database, or
 * the engine's read-only mode refused it), invalid (ClickHouse rejected it), stopped at a limit
 * (time, memory, result size), or bad usage; 1 the system is unreachable or busy. A refused
 * statement never runs, so nothing changes. With CLICKHOUSE_URL the limits are this tool's
 * `--sql-max-*` options; against the embedded endpoint, the running process's.
 */
import { text as readText } from 'node:stream/consumers';
import { EXIT_FAILURE, EXIT_USAGE, readCommandLine } from '../common/cli.js';
import { oneOf } from '../common/settings.js';
import { clickHouseErrorType } from '../clickhouse/failures.js';
import { clickhouseSettings, compileClickHouseOptions, describeTarget } from '../clickhouse/client.js';
import { openReadOnly, queryClientSettings, SystemUnreachableError } from '../clickhouse/query-client.js';
import {
  QueryBusyError,
  QueryFailedError,
  QueryLimitError,
  ReadOnlyClosedError,
  readOnlyLimitSettings,
  ReadOnlyViolationError,
} from '../clickhouse/read-only.js';
import { formatResult, RESULT_FORMATS, type ResultFormat } from './reports/result-format.js';

const sqlSettings = {
  format: oneOf<ResultFormat>({
    flag: '--format',
    env: 'SQL_FORMAT',
    default: 'table',
    values: RESULT_FORMATS,
    doc: 'Output: table (for people), json (an array of objects), csv (with a header).',
  }),
};

const commandLine = readCommandLine(
  {
    name: 'sql',
    description:
      'Run one read-only SQL query against the running system and print the result (the query as an argument or on stdin).',
    argument: ['[query...]', 'the query (quote it); read from stdin when absent'],
  },
  sqlSettings,
  clickhouseSettings,
  queryClientSettings,
  readOnlyLimitSettings,
);
const [cli, ch, qc, limits] = commandLine;

function fail(code: number, message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

async function readQuery(): Promise<string> {
  const args = commandLine.args;
  if (args.length > 0) return args.join(' ');
  if (process.stdin.isTTY) fail(EXIT_USAGE, 'give the query as an argument (npm run sql -- "SELECT 1") or on stdin');
  return readText(process.stdin);
}

const sql = (await readQuery()).trim();
if (sql === '') fail(EXIT_USAGE, 'the query is empty');

const { target } = compileClickHouseOptions(ch);
const system = openReadOnly({ target, queryUrl: qc.queryUrl, dataDir: qc.dataDir, options: limits });
try {
  const result = await system.query(sql);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `| head` closing the pipe is a normal way to stop reading.
    if (err.code !== 'EPIPE') fail(EXIT_FAILURE, `cannot write the result: ${err.message}`);
  });
  process.stdout.write(formatResult(result, cli.format));
} catch (err) {
  if (err instanceof ReadOnlyViolationError) fail(EXIT_USAGE, `refused: ${err.message} (npm run sql is read-only)`);
  if (err instanceof SystemUnreachableError) fail(EXIT_FAILURE, err.message);
  if (err instanceof QueryLimitError) fail(EXIT_USAGE, `stopped at a limit: ${err.message}`);
  if (err instanceof QueryBusyError || err instanceof ReadOnlyClosedError) fail(EXIT_FAILURE, err.message);
  if (err instanceof QueryFailedError) {
    // Server mode: no ClickHouse error code means the request never got an answer.
    if (target.kind === 'server' && clickHouseErrorType(err.cause) === undefined) {
      fail(
        EXIT_FAILURE,
        `cannot reach ClickHouse at ${describeTarget(target)} (${err.message}); is it running? (docker compose up)`,
      );
    }
    const first = err.message.split('\n', 1)[0]!;
    if (/readonly|read-only|cannot execute query in readonly mode|not enough privileges/i.test(err.message)) {
      fail(EXIT_USAGE, `refused by ClickHouse's read-only mode: ${first}`);
    }
    fail(EXIT_USAGE, `query failed: ${first}`);
  }
  throw err;
} finally {
  await system.close();
}
