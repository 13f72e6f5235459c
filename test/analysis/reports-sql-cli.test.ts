/**
 * `npm run sql` end to end, embedded mode: this test process plays the running system (a chDB
 * with a short simulation stored, and the read-only query service on a free port) and the CLI runs
 * as a child process pointed at it with QUERY_URL, as a person's terminal would be.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { startHttpInterface, type HttpInterface } from '../../clickhouse/http-interface.js';
import { silentLogger } from '../../common/logger.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { ROOT, cliArgv, runCli, type CliResult } from '../helpers/run-cli.js';
import { populate } from './reports-fixture.js';

const CLI = 'analysis/sql-cli.ts';
let ch: TempClickHouse;
let reader: ReadOnlyPool;
let service: HttpInterface;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  await populate(ch.client, { seed: 'sql-cli', minutes: 1 });
  // The endpoint's own read-only path: sessions of its own, the guard, readonly = 1 and the limits.
  reader = await openTestReader(ch);
  service = await startHttpInterface({ queries: reader, port: 0, logger: silentLogger });
  env = { QUERY_URL: service.url, CLICKHOUSE_URL: '' };
}, 60_000);
afterAll(async () => {
  await service?.close();
  await reader?.close();
  await ch?.close();
});

const sql = (...args: string[]) => runCli(CLI, args, env);

/** The CLI with the query on stdin. */
function sqlStdin(input: string, args: string[] = []): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(...cliArgv(CLI, args), { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function counts(): Promise<{ executions: number; windows: number; tables: number }> {
  const rs = await ch.client.query({
    query: `SELECT (SELECT count() FROM spike.executions) AS executions, (SELECT count() FROM spike.windows) AS windows,
      (SELECT count() FROM system.tables WHERE database = 'spike') AS tables`,
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<Record<string, number | string>>();
  return { executions: Number(r!.executions), windows: Number(r!.windows), tables: Number(r!.tables) };
}

const SAMPLE = `SELECT 1 AS n, 'x,y' AS text, NULL AS missing, 'say "hi"' AS quoted, [1, 2] AS list`;

describe('npm run sql', () => {
  it('prints a table by default, JSON as an array of objects, and CSV with a header', async () => {
    const [table, json, csv] = await Promise.all([
      sql(SAMPLE),
      sql(SAMPLE, '--format', 'json'),
      sql('--format', 'csv', SAMPLE),
    ]);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(table.stdout).toBe(
      [
        ' n | text | missing | quoted   | list',
        '---+------+---------+----------+-------',
        ' 1 | x,y  | NULL    | say "hi" | [1,2]',
        '(1 row)',
        '',
      ].join('\n'),
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([{ n: 1, text: 'x,y', missing: null, quoted: 'say "hi"', list: [1, 2] }]);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('n,text,missing,quoted,list\n1,"x,y",,"say ""hi""","[1,2]"\n');
  }, 60_000);

  it('answers investigation queries over the stored data, also with the query on stdin', async () => {
    const question = `SELECT toStartOfMinute(executed_at) AS minute, count() AS executions
      FROM spike.executions_dedup GROUP BY minute ORDER BY minute`;
    const [arg, stdin] = await Promise.all([
      sql('--format', 'json', question),
      sqlStdin(`${question};\n`, ['--format', 'json']),
    ]);
    expect(arg.code).toBe(0);
    const rows = JSON.parse(arg.stdout) as { minute: string; executions: number }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.minute).toBe('2026-01-01 00:00:00');
    expect(rows[0]!.executions).toBe((await counts()).executions);
    expect(stdin.code).toBe(0);
    expect(JSON.parse(stdin.stdout)).toEqual(rows);
  }, 60_000);

  it('refuses writes, setting changes and file access with exit code 2, and changes nothing', async () => {
    const refused: [string, RegExp][] = [
      ['INSERT INTO spike.windows (window_id) VALUES (1)', /refused/],
      ['DROP TABLE spike.windows', /refused/],
      ['ALTER TABLE spike.executions DELETE WHERE 1', /refused/],
      ['CREATE TABLE spike.x (a Int8) ENGINE = Memory', /refused/],
      ['SET readonly = 0', /refused/],
      ['SELECT 1; DROP TABLE spike.windows', /refused|query failed/],
      ["SELECT * FROM file('/etc/passwd', 'LineAsString')", /refused|query failed/],
      ["INSERT INTO FUNCTION file('/tmp/spike-leak.csv', 'CSV') SELECT 1", /refused/],
      ['SELECT 1 SETTINGS readonly = 0', /refused|query failed/],
    ];
    const before = await counts();
    // Concurrently: each is a child process that mostly waits for node to start.
    const results = await Promise.all(refused.map(([statement]) => sql(statement)));
    for (const [i, r] of results.entries()) {
      const [statement, message] = refused[i]!;
      expect({ statement, code: r.code, stdout: r.stdout }).toEqual({ statement, code: 2, stdout: '' });
      expect(r.stderr, statement).toMatch(message);
    }
    expect(await counts()).toEqual(before);
  }, 120_000);

  it('exits 2 for an invalid query, a bad --format or no query at all', async () => {
    const [invalid, format, empty] = await Promise.all([
      sql('SELECT no_such_column FROM spike.windows_dedup'),
      sql('--format', 'xml', 'SELECT 1'),
      sqlStdin('  \n'),
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/query failed: .*no_such_column/);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/--format.*table, json, csv/);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty/);
  }, 60_000);

  it('exits 1 and says how to start the system when it is unreachable, in either mode', async () => {
    const [embedded, server] = await Promise.all([
      runCli(CLI, ['SELECT 1'], { QUERY_URL: 'http://127.0.0.1:9', CLICKHOUSE_URL: '' }),
      runCli(CLI, ['SELECT 1'], { CLICKHOUSE_URL: 'http://127.0.0.1:9', CLICKHOUSE_REQUEST_TIMEOUT_MS: '2000' }),
    ]);
    expect(embedded.code).toBe(1);
    expect(embedded.stderr).toMatch(/cannot reach the running system.*npm start/);
    expect(server.code).toBe(1);
    expect(server.stderr).toMatch(/cannot reach ClickHouse at http:\/\/127\.0\.0\.1:9/);
  }, 60_000);
});
