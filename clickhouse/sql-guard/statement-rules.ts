/**
 * What a read-only statement may contain, decided on the syntax tree ClickHouse parsed (never on the
 * text): node kinds are allowed per position, and every function is checked by position — a function
 * directly under a TableExpression is a table function, any other is a regular one (`x IN numbers(3)`
 * calls a regular function `numbers`, checked with chDB).
 *
 *  - The statement: SELECT (with WITH, UNION, INTERSECT, EXCEPT), EXPLAIN of one, DESCRIBE, EXISTS and
 *    the SHOW variants that list metadata.
 *  - Output clauses: the caller appends its own `FORMAT <format>` before parsing (a second FORMAT is a
 *    syntax error), so the tree must show exactly that clause under the statement and nothing else
 *    there: `INTO OUTFILE` (a string literal), `SETTINGS` (a Set node) and a statement kind that would
 *    not show its output clauses are refused.
 *  - Inside: only the node kinds of reading expressions; no Set (SETTINGS, EXPLAIN options) anywhere,
 *    no `APPLY(f)` (names a function the tree does not show), no statement below the top.
 */
import type { AstNode } from './ast-graph.js';
import type { FunctionPolicy } from './function-policy.js';
import { TABLE_FUNCTIONS } from './function-policy.js';

/** Why the statement is refused, for the person who wrote it. */
export class StatementRefused extends Error {
  override readonly name = 'StatementRefused';
  constructor(
    message: string,
    /** The statement itself is not a reading one (INSERT, SET, SYSTEM…): the caller names it. */
    readonly notReading = false,
  ) {
    super(message);
  }
}

const EXPLAINS = new Set([
  'EXPLAIN',
  'EXPLAIN AST',
  'EXPLAIN SYNTAX',
  'EXPLAIN QUERY TREE',
  'EXPLAIN PLAN',
  'EXPLAIN PIPELINE',
  'EXPLAIN ESTIMATE',
]);

/** SHOW, EXISTS and SHOW CREATE statements: metadata only, their names as Identifier children. */
const SHOWS = new Set([
  'ShowTables', // SHOW TABLES / DATABASES / DICTIONARIES / CLUSTERS / SETTINGS / MERGES
  'ShowColumns', // SHOW COLUMNS / INDEX
  'ShowCreateTableQuery',
  'ShowCreateViewQuery',
  'ShowCreateDatabaseQuery',
  'ShowCreateDictionaryQuery',
  'ExistsTableQuery',
  'ExistsViewQuery',
  'ExistsDatabaseQuery',
  'ExistsDictionaryQuery',
  'ShowProcesslistQuery',
  'ShowFunctions',
  'ShowEngineQuery',
  'ShowSetting',
]);

/** Node kinds of reading expressions and clauses, allowed anywhere below the statement. */
const EXPRESSION_KINDS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'ExpressionList',
  'TablesInSelectQuery',
  'TablesInSelectQueryElement',
  'TableExpression',
  'TableJoin',
  'ArrayJoin',
  'Subquery',
  'Identifier',
  'TableIdentifier',
  'Function',
  'Literal',
  'Asterisk',
  'QualifiedAsterisk',
  'ColumnsRegexpMatcher',
  'ColumnsListMatcher',
  'QualifiedColumnsRegexpMatcher',
  'QualifiedColumnsListMatcher',
  'ColumnsTransformerList',
  'ColumnsExceptTransformer',
  'ColumnsReplaceTransformer',
  'ColumnsReplaceTransformer::Replacement',
  'OrderByElement',
  'WithElement',
  'WindowDefinition',
  'WindowListElement',
  'InterpolateElement',
  'SampleRatio',
]);

/** What a table expression may read: a table, a subquery or a table function, and a SAMPLE ratio. */
const TABLE_SOURCES = new Set(['TableIdentifier', 'Identifier', 'Subquery', 'Function']);

const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const isStringLiteral = (n: AstNode) => n.kind === 'Literal' && n.detail.startsWith("'");

/**
 * Throws StatementRefused unless `root` is a reading statement that only reads the database's
 * tables and computes, with exactly the output clause `FORMAT <format>`.
 */
export function checkStatement(root: AstNode, policy: FunctionPolicy, format: string): void {
  if (root.kind !== 'SelectWithUnionQuery' && root.kind !== 'Explain' && root.kind !== 'DescribeQuery') {
    if (!SHOWS.has(root.kind)) throw new StatementRefused(`${root.kind} is not a reading statement`, true);
  }
  // The format clause the caller appended: the last Identifier child naming it. Without it, the
  // clause went elsewhere (after an output clause of the statement's own).
  const at = root.children.findLastIndex((c) => c.kind === 'Identifier' && c.detail === format);
  if (at < 0) throw refusedOutfile();
  const parts = root.children.filter((_, i) => i !== at);
  for (const part of parts) {
    if (part.kind === 'Set') throw refusedSettings();
    if (isStringLiteral(part)) throw refusedOutfile();
  }
  const statement = { ...root, children: parts };
  if (root.kind === 'SelectWithUnionQuery') return walk(statement, policy);
  if (root.kind === 'Explain') {
    if (!EXPLAINS.has(root.detail)) throw new StatementRefused(`${root.detail} is not accepted here`);
    const [inner, ...rest] = parts;
    if (rest.length > 0 || inner?.kind !== 'SelectWithUnionQuery') {
      throw new StatementRefused('EXPLAIN is accepted for a SELECT, without options or clauses');
    }
    return walk(inner, policy);
  }
  if (root.kind === 'DescribeQuery') {
    if (parts.length !== 1 || parts[0]!.kind !== 'TableExpression') {
      throw new StatementRefused('DESCRIBE is accepted for one table, table function or subquery');
    }
    return walk(parts[0]!, policy);
  }
  if (SHOWS.has(root.kind)) {
    // Names (FROM db, the table) are identifiers; LIMIT n is a number. Anything else is refused.
    const other = parts.find((p) => p.kind !== 'Identifier' && !(p.kind === 'Literal' && !isStringLiteral(p)));
    if (other) throw new StatementRefused(`this SHOW form is not accepted here; use SELECT … FROM system.…`);
  }
}

function walk(node: AstNode, policy: FunctionPolicy): void {
  if (node.kind === 'Set') throw refusedSettings();
  if (node.kind === 'ColumnsApplyTransformer') {
    throw new StatementRefused('APPLY(…) is not accepted here: write the function call out instead');
  }
  if (!EXPRESSION_KINDS.has(node.kind)) throw new StatementRefused(`unsupported syntax here: ${node.kind}`);
  if (node.kind === 'SelectWithUnionQuery') {
    // Its only child is the list of SELECTs: anything else is an output clause (INTO OUTFILE…).
    if (node.children.length !== 1 || node.children[0]!.kind !== 'ExpressionList') throw refusedOutfile();
  }
  if (node.kind === 'TableExpression') {
    const sources = node.children.filter((c) => TABLE_SOURCES.has(c.kind));
    const other = node.children.find((c) => !TABLE_SOURCES.has(c.kind) && c.kind !== 'SampleRatio');
    if (sources.length !== 1 || other) throw new StatementRefused('unsupported table expression');
    const source = sources[0]!;
    if (source.kind === 'Function') {
      const name = source.detail;
      if (!FUNCTION_NAME.test(name) || !policy.allowsTableFunction(name)) {
        throw new StatementRefused(
          `table function ${shown(name)}() is not accepted here: it reaches files, programs, other servers or ` +
            `tables by name. Read the database's tables, or ${TABLE_FUNCTIONS.filter((t) => t !== 'SQLStandardValues').join(', ')}`,
        );
      }
      return source.children.forEach((c) => walk(c, policy));
    }
  } else if (node.kind === 'Function') {
    const name = node.detail;
    if (!FUNCTION_NAME.test(name) || !policy.allowsFunction(name)) {
      throw new StatementRefused(
        `function ${shown(name)}() is not accepted here: only functions that compute on their arguments are ` +
          '(not files, programs, the network, dictionaries or server internals)',
      );
    }
  }
  for (const child of node.children) walk(child, policy);
}

const shown = (name: string) => JSON.stringify(name.slice(0, 60)).slice(1, -1);

export const SETTINGS_REFUSED =
  'SETTINGS (and EXPLAIN options) are not accepted here: the read-only path runs with fixed limits';

function refusedSettings(): StatementRefused {
  return new StatementRefused(SETTINGS_REFUSED);
}

function refusedOutfile(): StatementRefused {
  return new StatementRefused(
    'INTO OUTFILE and FORMAT clauses are not accepted here: results are returned (never written to a file) in the format the tool chooses',
  );
}
