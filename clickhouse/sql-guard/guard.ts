/**
 * The read-only guard: ClickHouse itself parses the statement and the guard accepts it or refuses
 * it on the syntax tree (statement-rules.ts), never on the text. Three steps, each a statement of the
 * guard's own in which the user's text is data, never code:
 *
 *  1. `SELECT formatQuerySingleLine(unhex('<hex>'))`: the text, hex-encoded so no quote can end the
 *     literal, comes back as one statement in ClickHouse's canonical form (comments gone, literals in
 *     one quoting style), or as a syntax error — two statements are one ("Multi-statements are not
 *     allowed": chDB would otherwise run `a; b` as two);
 *  2. `EXPLAIN AST graph = 1 <canonical> FORMAT JSONCompact`: only parses (checked with chDB: a
 *     `url()` or `DESCRIBE url()` under it opens no connection, an `INTO OUTFILE` under it writes
 *     no file). The explained statement is parsed by the same parser as a statement on its own, so
 *     its clauses stay its own; the FORMAT clause the runner appends is parsed with it;
 *  3. the tree is read (ast-graph.ts) and checked (statement-rules.ts).
 * What runs afterwards is exactly the canonical text that was checked, with that FORMAT clause.
 *
 * The guard needs a way to run its own statements read-only (`GuardQuery`): a chDB session opened
 * with `readonly = 1`, or a server client sending `readonly = 1` with each request. It serves the
 * embedded pool, the server-mode client, and can serve an HTTP front of ClickHouse the same way.
 */
import { text } from 'node:stream/consumers';
import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client';
import { clickHouseErrorType } from '../failures.js';
import { MAX_SQL_LENGTH, QueryFailedError, ReadOnlyViolationError } from '../read-only.js';
import { AstGraphError, parseAstGraph } from './ast-graph.js';
import { functionPolicy, type EngineFunctions, type FunctionPolicy } from './function-policy.js';
import { quote } from '../http-protocol.js';
import { OUTPUT_FORMATS } from './output-formats.js';
import { checkStatement, SETTINGS_REFUSED, StatementRefused } from './statement-rules.js';

/** The format of every read-only result: the runner appends `FORMAT JSONCompact` to the statement. */
export const RESULT_FORMAT = 'JSONCompact';

/** Runs one of the guard's own statements (read-only) and returns its rows. */
export type GuardQuery = (sql: string) => Promise<unknown[][]>;

/**
 * A GuardQuery on a client: the statement as given (no FORMAT appended: the EXPLAIN carries the
 * result's), its rows as JSON arrays one per line. A line that is not one (the output came in
 * another format) is a SyntaxError. `settings` go with each request (server mode).
 */
export function clientGuardQuery(client: ClickHouseClient, settings: ClickHouseSettings = {}): GuardQuery {
  return async (sql) => {
    const result = await client.exec({
      query: sql,
      clickhouse_settings: { default_format: 'JSONCompactEachRow', ...settings },
    });
    const lines = (await text(result.stream)).split('\n').filter((line) => line !== '');
    return lines.map((line) => {
      const row: unknown = JSON.parse(line);
      if (!Array.isArray(row)) throw new SyntaxError('not a JSONCompactEachRow row');
      return row as unknown[];
    });
  };
}

const notReading = (keyword: string) =>
  keyword.startsWith('SHOW')
    ? `${keyword} is not accepted here: the SHOW forms accepted are TABLES, DATABASES, DICTIONARIES, COLUMNS, INDEX, CREATE, PROCESSLIST, FUNCTIONS, ENGINES, SETTING(S); or SELECT from system.*`
    : `only reading statements are accepted here (SELECT, WITH … SELECT, SHOW, DESCRIBE, EXISTS, EXPLAIN); this is ${keyword}`;

export class SqlGuard {
  private policy: Promise<FunctionPolicy> | undefined;

  constructor(private readonly run: GuardQuery) {}

  /**
   * The canonical text of `sql` if it is one reading statement that only reads the database and
   * computes; ReadOnlyViolationError if it is refused, QueryFailedError if ClickHouse cannot parse it.
   */
  async check(sql: string): Promise<string> {
    if (sql.length > MAX_SQL_LENGTH) {
      throw new ReadOnlyViolationError(`the query is longer than ${MAX_SQL_LENGTH} characters`);
    }
    if (sql.trim() === '') throw new ReadOnlyViolationError('the query is empty');
    const policy = await this.functionPolicy();
    const hex = Buffer.from(sql, 'utf8').toString('hex');
    const canonical = await this.single(`SELECT formatQuerySingleLine(unhex('${hex}'))`);
    const keyword = /^[A-Z]+(?: [A-Z]+)?/.exec(canonical)?.[0] ?? canonical.slice(0, 20);
    let lines: string[];
    try {
      lines = (await this.run(`EXPLAIN AST graph = 1 ${canonical} \nFORMAT ${RESULT_FORMAT}`)).map((row) => {
        if (row.length !== 1 || typeof row[0] !== 'string') throw new AstGraphError('unexpected EXPLAIN output');
        return row[0];
      });
    } catch (err) {
      const type = clickHouseErrorType(err);
      // A statement that cannot take a FORMAT clause is not a reading one (SYSTEM, USE…); one that
      // answers in another format than asked had a FORMAT clause of its own, or lets the FORMAT
      // clause go to the EXPLAIN (INSERT, SET…).
      if (type === 'SYNTAX_ERROR' || err instanceof AstGraphError || err instanceof SyntaxError) {
        const reading = /^(SELECT|WITH|SHOW|DESCRIBE|EXISTS|EXPLAIN|\()/.test(canonical);
        throw new ReadOnlyViolationError(
          reading ? 'FORMAT clauses are not accepted here: the tool chooses the output format' : notReading(keyword),
        );
      }
      // EXPLAIN applies the statement's SETTINGS, which `readonly = 1` refuses.
      if (type === 'READONLY') throw new ReadOnlyViolationError(SETTINGS_REFUSED);
      throw failed(err);
    }
    try {
      checkStatement(parseAstGraph(lines), policy, RESULT_FORMAT);
    } catch (err) {
      if (err instanceof AstGraphError) {
        throw new ReadOnlyViolationError(
          'the statement’s syntax tree cannot be read unambiguously (a name with a line break in it, for instance)',
          { cause: err },
        );
      }
      if (err instanceof StatementRefused) {
        const message = err.notReading ? notReading(keyword) : err.message;
        throw new ReadOnlyViolationError(message, { cause: err });
      }
      throw err;
    }
    return canonical;
  }

  /**
   * For a front that speaks ClickHouse's protocol, where a statement may end in its own
   * `FORMAT <name>`: the statement checked as `check` does, without that clause, and the format it
   * named (undefined when none). The clause is found on ClickHouse's canonical text (its last words,
   * where ClickHouse's formatter puts it) and only a format of OUTPUT_FORMATS is accepted. The rest is
   * checked as any statement: a wrong split would only make it fail the check, and what runs is the
   * checked text with a FORMAT clause of the caller's, naming an allowlisted format.
   */
  async checkWithFormat(sql: string): Promise<{ statement: string; format: string | undefined }> {
    if (sql.length > MAX_SQL_LENGTH) {
      throw new ReadOnlyViolationError(`the query is longer than ${MAX_SQL_LENGTH} characters`);
    }
    if (sql.trim() === '') throw new ReadOnlyViolationError('the query is empty');
    const hex = Buffer.from(sql, 'utf8').toString('hex');
    const canonical = await this.single(`SELECT formatQuerySingleLine(unhex('${hex}'))`);
    const clause = / FORMAT ([A-Za-z][A-Za-z0-9_]*)$/.exec(canonical);
    if (clause) {
      const format = clause[1]!;
      if (!OUTPUT_FORMATS.has(format)) {
        throw new ReadOnlyViolationError(
          `FORMAT ${format} is not accepted here; the output formats are ${[...OUTPUT_FORMATS].join(', ')}`,
        );
      }
      try {
        return { statement: await this.check(canonical.slice(0, clause.index)), format };
      } catch (err) {
        // Not `<statement> FORMAT <name>`: an INSERT's data is written as `FORMAT Values`, for one.
        if (!(err instanceof QueryFailedError)) throw err;
      }
    }
    // The text as given: the canonical form of an INSERT leaves its data out.
    return { statement: await this.check(sql), format: undefined };
  }

  /**
   * This guard for a statement with `{name:Type}` placeholders: ClickHouse substitutes them while
   * parsing (EXPLAIN AST of a statement with an unset one fails), so each of the guard's statements
   * is preceded by `SET param_<name> = '<value>'` and the tree checked is the one with the values in
   * it, as they will run. Names must be identifiers; values are quoted. Shares the function policy.
   */
  withParameters(params: readonly (readonly [name: string, value: string])[]): SqlGuard {
    if (params.length === 0) return this;
    for (const [name] of params) {
      if (!/^param_[A-Za-z0-9_]+$/.test(name)) throw new ReadOnlyViolationError(`not a query parameter: ${name}`);
    }
    const prefix = params.map(([name, value]) => `SET ${name} = ${quote(value)}; `).join('');
    const guard = new SqlGuard((sql) => this.run(prefix + sql));
    guard.policy = this.functionPolicy();
    return guard;
  }

  /** The function allowlist, built from the engine's lists once. */
  private functionPolicy(): Promise<FunctionPolicy> {
    this.policy ??= loadEngineFunctions(this.run).then(functionPolicy, (err: unknown) => {
      this.policy = undefined; // try again with the next statement
      throw failed(err);
    });
    return this.policy;
  }

  private async single(sql: string): Promise<string> {
    let rows: unknown[][];
    try {
      rows = await this.run(sql);
    } catch (err) {
      throw failed(err);
    }
    const value = rows[0]?.[0];
    if (rows.length !== 1 || typeof value !== 'string') throw new QueryFailedError('unexpected answer from ClickHouse');
    return value;
  }
}

/** ClickHouse's message, without the guard's own statement that it quotes ("In scope SELECT …"). */
function failed(err: unknown): QueryFailedError {
  const message = err instanceof Error ? err.message.trim() : String(err);
  return new QueryFailedError(message.replace(/:? In scope [\s\S]*?(\([A-Z_]+\))?$/, ' $1').trim(), { cause: err });
}

async function loadEngineFunctions(run: GuardQuery): Promise<EngineFunctions> {
  const functions = await run(
    'SELECT name, is_aggregate, case_insensitive, alias_to, categories, toString(origin) FROM system.functions',
  );
  const combinators = await run('SELECT name FROM system.aggregate_function_combinators');
  const tables = await run('SELECT name FROM system.table_functions');
  return {
    functions: functions.map(([name, aggregate, insensitive, aliasTo, categories, origin]) => ({
      name: String(name),
      isAggregate: Number(aggregate) === 1,
      caseInsensitive: Number(insensitive) === 1,
      aliasTo: String(aliasTo),
      categories: String(categories),
      origin: String(origin),
    })),
    combinators: combinators.map(([name]) => String(name)),
    tableFunctions: tables.map(([name]) => String(name)),
  };
}
