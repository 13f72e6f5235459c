/**
 * The read-only SQL path against a hostile corpus (issue 10, item 1). A secret file holding a random
 * token is planted, and an empty directory where no file may appear. Every statement goes through
 * the guard (ReadOnlyPool.query) and through the live endpoint (POST /query); no answer — rows or
 * error message — may contain the token, and no file may appear. The corpus: every way of quoting
 * the path, of commenting, of spelling the function, of nesting (subqueries, view(), WITH, UNION,
 * IN, JOIN, ARRAY JOIN, lambdas), DESCRIBE and EXPLAIN of a table function, output clauses on every
 * reading statement, several statements in one, names with line breaks, and every table function the
 * engine lists that is not allowed — read from `system.table_functions` at run time, so a new engine
 * version's additions are tried too. A control first shows the attack works without the guard.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import { startQueryService, type QueryService } from '../../clickhouse/query-service.js';
import { openReadOnlyPool, type ReadOnlyPool } from '../../clickhouse/read-only-pool.js';
import { readOnlyOptions } from '../../clickhouse/read-only.js';
import { TABLE_FUNCTIONS } from '../../clickhouse/sql-guard/function-policy.js';
import { silentLogger } from '../../common/logger.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ro-hostile-'));
const token = `tok${randomUUID().replaceAll('-', '')}`;
const secret = path.join(work, 'secret.txt');
const never = path.join(work, 'never'); // no file may ever appear in here
/** A relative output path lands in the process's working directory. */
const relative = `never-${token}.csv`;
fs.writeFileSync(secret, `${token}\n`);
fs.mkdirSync(never);

let writer: ClickHouseClient;
let pool: ReadOnlyPool;
let service: QueryService;
let tableFunctions: string[] = [];

beforeAll(async () => {
  const dataPath = path.join(work, 'clickhouse');
  writer = createClickHouse({ kind: 'embedded', dataPath });
  pool = await openReadOnlyPool({
    target: { kind: 'embedded', dataPath },
    options: readOnlyOptions({ maxExecutionMs: 5000 }),
    logger: silentLogger,
  });
  service = await startQueryService({ queries: pool, port: 0, logger: silentLogger });
  const rs = await writer.query({ query: 'SELECT name FROM system.table_functions', format: 'JSONCompact' });
  tableFunctions = ((await rs.json()) as { data: [string][] }).data.map(([n]) => n);
});

afterAll(async () => {
  await service?.close();
  await pool?.close();
  await writer?.close();
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(relative, { force: true });
});

// ---- the corpus --------------------------------------------------------------------------------

const hex = (s: string) => [...Buffer.from(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
/** The secret's path written every way ClickHouse accepts a string. */
const literals = (p: string) => [
  `'${p}'`,
  `$$${p}$$`,
  `$tag$${p}$tag$`,
  `'${hex(p)}'`,
  `concat('${p.slice(0, 4)}', '${p.slice(4)}')`,
  `'${p.slice(0, 4)}' || '${p.slice(4)}'`,
  `unhex('${Buffer.from(p).toString('hex')}')`,
  `reverse('${[...p].reverse().join('')}')`,
];
const spellings = ['file', 'FILE', 'File', '`file`', '"file"', 'fIlE'];
const comments = ['--\n', '#\n', '#!\n', '/* x */', '/* /* nested */ */', "/* ' */", '-- \u2028\n'];
const out = (n: number | string) => `'${path.join(never, `out-${n}.csv`)}'`;

function corpus(): string[] {
  const s: string[] = [];
  // The reproductions of the issue.
  s.push(`SELECT $$--$$ AS a, file('${secret}', 'RawBLOB') AS b`);
  s.push(`SELECT $$'$$ AS a INTO OUTFILE $$${path.join(never, 'x')}$$ -- '`);
  s.push(`SELECT $$--$$ AS x INTO OUTFILE ${out('y')}`);
  for (const lit of literals(secret)) {
    for (const fn of spellings) {
      s.push(`SELECT ${fn}(${lit})`, `SELECT * FROM ${fn}(${lit}, 'RawBLOB')`);
    }
    s.push(
      `SELECT $$--$$ AS a, file(${lit}, 'RawBLOB') AS b`,
      `WITH file(${lit}) AS x SELECT x`,
      `WITH (SELECT file(${lit})) AS x SELECT x`,
      `WITH t AS (SELECT * FROM file(${lit}, 'RawBLOB')) SELECT * FROM t`,
      `SELECT * FROM (SELECT file(${lit}))`,
      `SELECT * FROM view(SELECT file(${lit}))`,
      `SELECT * FROM view(SELECT * FROM file(${lit}, 'RawBLOB'))`,
      `SELECT 1 UNION ALL SELECT file(${lit})`,
      `SELECT 1 INTERSECT SELECT file(${lit})`,
      `SELECT '${token.slice(0, 3)}' IN (SELECT * FROM file(${lit}, 'LineAsString'))`,
      `SELECT 'x' IN file(${lit}, 'LineAsString')`,
      `SELECT * FROM numbers(1) AS a JOIN file(${lit}, 'LineAsString') AS b ON 1`,
      `SELECT * FROM numbers(1) ARRAY JOIN [file(${lit})] AS c`,
      `SELECT arrayMap(x -> file(x), [${lit}])`,
      `SELECT max(file(${lit})) OVER ()`,
      `DESCRIBE file(${lit})`,
      `DESC TABLE file(${lit}, 'LineAsString')`,
      `DESCRIBE (SELECT file(${lit}))`,
      `EXPLAIN SELECT * FROM file(${lit}, 'RawBLOB')`,
      `EXPLAIN PIPELINE SELECT * FROM file(${lit}, 'RawBLOB')`,
      `EXPLAIN ESTIMATE SELECT file(${lit})`,
      `SELECT * FROM file(${lit}, 'RawBLOB') INTO OUTFILE ${out('f')}`,
      `SELECT formatRow('CSV', file(${lit}))`,
      `SELECT COLUMNS('p') APPLY(file) FROM (SELECT ${lit} AS p)`,
      `SELECT * APPLY(file) FROM (SELECT ${lit} AS p)`,
      `SELECT * FROM filesystem('${work}')`,
      `SELECT content FROM filesystem('${work}') WHERE name = 'secret.txt'`,
    );
  }
  for (const c of comments) {
    s.push(
      `SELECT 1 ${c} , file('${secret}')`,
      `SELECT ${c} file('${secret}')`,
      `${c} SELECT * FROM file('${secret}', 'RawBLOB')`,
      `SELECT 1 ${c} INTO OUTFILE ${out('c')}`,
      `SELECT 1 ${c}; SELECT file('${secret}')`,
    );
  }
  s.push(
    `sElEcT fIlE('${secret}')`,
    `SELECT 1; SELECT file('${secret}')`,
    `SELECT ';'; SELECT file('${secret}')`,
    `SELECT $$;$$; SELECT file('${secret}')`,
    `SELECT 1;SELECT * FROM file('${secret}', 'RawBLOB');`,
    `SELECT 'it''s', file('${secret}')`,
    `SELECT 'a\\'b', file('${secret}')`,
    `SELECT "col""x" FROM (SELECT file('${secret}') AS "col""x")`,
    `SELECT \`a\`\`b\` FROM (SELECT file('${secret}') AS \`a\`\`b\`)`,
    `SELECT dictGet('d', 'a', 1)`,
    `SELECT catboostEvaluate('${secret}', 1)`,
    `SELECT * FROM input('a String')`,
    `SELECT * FROM format(RawBLOB, '${token}x')`,
    `SELECT * FROM merge('system', '^one$')`,
    `SELECT * FROM remote('127.0.0.1:1', system.one)`,
    `SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')`,
    `SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV', 'a String')`,
    `SELECT * FROM executable('cat ${secret}', 'TSV', 'a String')`,
    `SELECT * FROM mysql('127.0.0.1:1', 'a', 'b', 'c', 'd')`,
    `SELECT * FROM loop(numbers(1))`,
    `SELECT * FROM eval('SELECT file(''${secret}'')')`,
    `SELECT aiGenerate('x')`,
    `SELECT AIGenerate('x')`,
    `SELECT hasColumnInTable('127.0.0.1:1', 'u', 'p', 'system', 'one', 'dummy')`,
    `SELECT logTrace('x')`,
    `SELECT addressToLine(1)`,
    `SELECT showCertificate()`,
    `SELECT filesystemAvailable()`,
    `SELECT joinGet('a', 'b', 1)`,
    // Output clauses on every reading statement.
    `SELECT * FROM (SELECT 1) INTO OUTFILE ${out(1)}`,
    `SELECT 1 INTO OUTFILE ${out(2)} FORMAT CSV`,
    `SELECT 1 INTO OUTFILE ${out(3)} AND STDOUT`,
    `SELECT 1 INTO OUTFILE ${out(4)} APPEND`,
    `SELECT 1 INTO OUTFILE ${out(5)} TRUNCATE COMPRESSION 'gzip'`,
    `SELECT 1 INTO OUTFILE '${relative}'`,
    `SELECT 1 into/**/outfile ${out(6)}`,
    `WITH 1 AS a SELECT a INTO OUTFILE ${out(7)}`,
    `SELECT 1 UNION ALL SELECT 2 INTO OUTFILE ${out(8)}`,
    `EXPLAIN SELECT 1 INTO OUTFILE ${out(9)}`,
    `EXPLAIN AST SELECT 1 INTO OUTFILE ${out(10)}`,
    `EXPLAIN SYNTAX SELECT 1 INTO OUTFILE ${out(11)}`,
    `SHOW TABLES INTO OUTFILE ${out(12)}`,
    `SHOW DATABASES INTO OUTFILE ${out(13)}`,
    `SHOW PROCESSLIST INTO OUTFILE ${out(14)}`,
    `SHOW CREATE TABLE system.one INTO OUTFILE ${out(15)}`,
    `SHOW COLUMNS FROM system.one INTO OUTFILE ${out(16)}`,
    `DESCRIBE numbers(1) INTO OUTFILE ${out(17)}`,
    `EXISTS system.one INTO OUTFILE ${out(18)}`,
    `SHOW SETTING max_threads INTO OUTFILE ${out(19)}`,
    `SELECT 1 FORMAT CSV`,
    `SELECT 1 SETTINGS readonly = 0`,
    `SELECT 1 SETTINGS max_execution_time = 0`,
    `EXPLAIN PLAN indexes = 1 SELECT 1`,
    `SET readonly = 0`,
    `INSERT INTO FUNCTION file(${out(20)}, 'CSV', 'a Int8') VALUES (1)`,
    `CREATE TABLE t ENGINE = File(RawBLOB, '${secret}')`,
    `SYSTEM FLUSH LOGS`,
    `KILL QUERY WHERE 1`,
    // Names with line breaks that would print fake lines of the syntax tree.
    `SELECT 1 AS \`a\n    n1[label="Literal UInt64_1"];\`, file('${secret}')`,
    `SELECT \`file\n\`('${secret}')`,
    `SELECT file('${secret}') AS \`x)\n Literal 'y'\``,
    `SELECT * FROM numbers(1) AS \`t\n    n2 -> n3;\`, file('${secret}', 'RawBLOB')`,
  );
  return s;
}

/** Every table function of the engine that is not allowed, in FROM and under DESCRIBE. */
function tableFunctionCorpus(): string[] {
  const allowed = new Set<string>(TABLE_FUNCTIONS);
  return tableFunctions
    .filter((t) => !allowed.has(t))
    .flatMap((t) => [
      `SELECT * FROM ${t}('${secret}')`,
      `SELECT * FROM ${t}('${secret}', 'RawBLOB')`,
      `DESCRIBE ${t}('${secret}', 'RawBLOB')`,
      `SELECT * FROM numbers(1) WHERE 1 IN (SELECT 1 FROM ${t}('${secret}'))`,
    ]);
}

// ---- the checks --------------------------------------------------------------------------------

function filesCreated(): string[] {
  const found = fs.readdirSync(never);
  if (fs.existsSync(relative)) found.push(relative);
  return found;
}

async function expectRefusedEverywhere(statement: string): Promise<void> {
  const direct = await pool.query(statement).then(
    (r) => ({ ok: true, text: JSON.stringify(r) }),
    (e: Error) => ({ ok: false, text: `${(e as { code?: string }).code}: ${e.message}` }),
  );
  expect(direct.text).not.toContain(token);
  expect(direct.ok, `accepted by the guard: ${statement}`).toBe(false);
  const res = await fetch(`${service.url}/query`, { method: 'POST', body: JSON.stringify({ sql: statement }) });
  const body = await res.text();
  expect(body).not.toContain(token);
  expect(res.status, body).not.toBe(200);
  expect(filesCreated()).toEqual([]);
}

describe('the planted secret', () => {
  it('is readable without the guard: the corpus attacks something real', async () => {
    const rs = await writer.query({ query: `SELECT file('${secret}') AS s`, format: 'JSONCompact' });
    expect(JSON.stringify(await rs.json())).toContain(token);
    expect(tableFunctions).toContain('file');
    expect(tableFunctions.length).toBeGreaterThan(40);
  });
});

describe('the hostile corpus', () => {
  it.each(corpus())('refuses %j, on the guard and on the endpoint, leaking and writing nothing', (statement) =>
    expectRefusedEverywhere(statement),
  );

  it('refuses every table function of the engine that is not on the allowlist', async () => {
    const statements = tableFunctionCorpus();
    expect(statements.length).toBeGreaterThan(4 * 60);
    for (const statement of statements) await expectRefusedEverywhere(statement);
  }, 120_000);

  it('names the reason: the reproductions are refused by the guard (READ_ONLY), not by chance', async () => {
    for (const statement of corpus().slice(0, 3)) {
      const res = await fetch(`${service.url}/query`, { method: 'POST', body: JSON.stringify({ sql: statement }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('READ_ONLY');
    }
  });
});

describe('parsing runs nothing', () => {
  it('opens no connection for url() or DESCRIBE url() while deciding; running DESCRIBE url() does', async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.end('a\n1\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `'http://127.0.0.1:${(server.address() as AddressInfo).port}/x.csv'`;
    try {
      for (const statement of [
        `DESCRIBE url(${url})`,
        `SELECT * FROM url(${url}, 'CSV')`,
        `EXPLAIN SELECT * FROM url(${url})`,
      ]) {
        await expect(pool.query(statement)).rejects.toThrow(/url\(\) is not accepted/);
      }
      expect(requests).toBe(0);
      await writer.query({ query: `DESCRIBE url(${url})`, format: 'JSON' }).then((r) => r.json());
      expect(requests).toBeGreaterThan(0); // the control: the engine does reach out when it runs it
    } finally {
      server.close();
    }
  });
});

describe('what it still accepts', () => {
  it.each([
    [`SELECT $$--$$ AS a, $tag$'$tag$ AS b, 'it''s' AS c, 'x\\'y' AS d`, [['--', "'", "it's", "x'y"]]],
    ['SELECT 1 AS n -- a comment\n', [[1]]],
    ['/* a /* nested */ comment */ SELECT 2 AS n;', [[2]]],
    ["SELECT 'file(' || 'x)' AS s, concat('INTO', ' OUTFILE') AS t", [['file(x)', 'INTO OUTFILE']]],
    ['WITH t AS (SELECT number AS n FROM numbers(3)) SELECT sum(n) FROM t', [[3]]],
    ['SELECT count() FROM view(SELECT * FROM numbers(4)) WHERE number IN (SELECT 1 UNION ALL SELECT 2)', [[2]]],
    ['SELECT sumIf(number, number > 1), uniqExact(number), quantile(0.5)(number) FROM numbers(5)', [[9, 5, 2]]],
    ['SELECT arrayMap(x -> x * 2, [1, 2]) AS a', [[[2, 4]]]],
    ['SELECT * FROM (VALUES (1), (2)) ORDER BY 1', [[1], [2]]],
    ["SELECT count() FROM (SELECT * FROM generateRandom('a UInt8') LIMIT 3)", [[3]]],
    ['EXISTS system.one', [[1]]],
    ["SHOW TABLES FROM system LIKE 'one'", [['one']]],
  ])('accepts %j', async (statement, rows) => {
    expect((await pool.query(statement)).rows).toEqual(rows);
  });
});
