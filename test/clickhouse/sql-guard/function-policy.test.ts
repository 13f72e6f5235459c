/**
 * The function allowlist against the engine's own lists (read from chDB at run time): functions that
 * reach files, programs, the network, dictionaries or server internals are refused in every spelling
 * the engine resolves; everyday computing functions, their aliases and combinator forms are allowed;
 * of the table functions only the in-memory list. A synthetic catalog covers the resolution rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../../clickhouse/client.js';
import { clientGuardQuery } from '../../../clickhouse/sql-guard/guard.js';
import {
  functionPolicy,
  TABLE_FUNCTIONS,
  type EngineFunctions,
  type FunctionPolicy,
  type FunctionRow,
} from '../../../clickhouse/sql-guard/function-policy.js';

const dataPath = mkdtempSync(join(tmpdir(), 'function-policy-'));
let client: ClickHouseClient;
let engine: EngineFunctions;
let policy: FunctionPolicy;

beforeAll(async () => {
  client = createClickHouse({ kind: 'embedded', dataPath });
  const run = clientGuardQuery(client);
  const functions = await run(
    'SELECT name, is_aggregate, case_insensitive, alias_to, categories, toString(origin) FROM system.functions',
  );
  engine = {
    functions: functions.map(([name, agg, ci, aliasTo, categories, origin]) => ({
      name: String(name),
      isAggregate: Number(agg) === 1,
      caseInsensitive: Number(ci) === 1,
      aliasTo: String(aliasTo),
      categories: String(categories),
      origin: String(origin),
    })),
    combinators: (await run('SELECT name FROM system.aggregate_function_combinators')).map(([n]) => String(n)),
    tableFunctions: (await run('SELECT name FROM system.table_functions')).map(([n]) => String(n)),
  };
  policy = functionPolicy(engine);
});
afterAll(async () => {
  await client.close();
  rmSync(dataPath, { recursive: true, force: true });
});

describe('functions, against the engine’s lists', () => {
  it.each([
    'file',
    'FILE',
    'File',
    'filesystemAvailable',
    'aiGenerate',
    'AIGenerate',
    'aiEmbed',
    'dictGet',
    'dictGetString',
    'dictHas',
    'regionToName',
    'catboostEvaluate',
    'naiveBayesClassifier',
    'hasColumnInTable',
    'logTrace',
    'addressToLine',
    'demangle',
    'showCertificate',
    'getMacro',
    'getServerSetting',
    'getClientHTTPHeader',
    'generateSerialID',
    'joinGet',
    'sleep',
    'sleepEachRow',
    '__getScalar',
    'zookeeperSessionUptime',
    'numbers',
    'url',
    'remote',
    'input',
    'fileIf', // a combinator suffix on a regular function is not an aggregate
    'no_such_function',
  ])('refuses %s()', (name) => {
    expect(policy.allowsFunction(name)).toBe(false);
  });

  it.each([
    'plus',
    'equals',
    'and',
    'in',
    'notIn',
    'tuple',
    'tupleElement',
    'arrayElement',
    'lambda',
    'arrayMap',
    'multiIf',
    'caseWithExpression',
    'CAST',
    'toStartOfMinute',
    'toDateTime',
    'concat',
    'format',
    'formatReadableSize',
    'FORMAT_BYTES',
    'count',
    'COUNT',
    'countDistinct',
    'COUNTDistinct',
    'sumIf',
    'uniqExactArrayIf',
    'avgOrNull',
    'quantile',
    'quantilesTDigestState',
    'array_concat_agg',
    'row_number',
    'lagInFrame',
    'exists',
    'toTypeName',
    'currentDatabase',
    'throwIf',
  ])('allows %s()', (name) => {
    expect(policy.allowsFunction(name)).toBe(true);
  });

  it('allows the in-memory table functions only, in any case the engine resolves', () => {
    for (const name of TABLE_FUNCTIONS) expect(policy.allowsTableFunction(name), name).toBe(true);
    expect(policy.allowsTableFunction('NUMBERS')).toBe(true);
    const refused = engine.tableFunctions.filter((t) => !(TABLE_FUNCTIONS as readonly string[]).includes(t));
    expect(refused).toEqual(expect.arrayContaining(['file', 'url', 's3', 'remote', 'mysql', 'executable', 'input']));
    for (const name of refused) {
      expect(policy.allowsTableFunction(name), name).toBe(false);
      expect(policy.allowsTableFunction(name.toUpperCase()), name).toBe(false);
    }
  });
});

describe('resolution rules (synthetic catalog)', () => {
  const row = (name: string, o: Partial<FunctionRow> = {}): FunctionRow => ({
    name,
    isAggregate: false,
    caseInsensitive: false,
    aliasTo: '',
    categories: 'String',
    origin: 'System',
    ...o,
  });
  const synthetic = functionPolicy({
    functions: [
      row('lower'),
      row('Lower', { categories: 'Other' }), // an exact name wins over a case-insensitive one
      row('upper', { caseInsensitive: true }),
      row('reach', { categories: 'Other' }),
      row('reachAlias', { aliasTo: 'reach' }),
      row('mine', { origin: 'ExecutableUserDefined' }),
      row('sum', { isAggregate: true, categories: 'Aggregate Functions' }),
    ],
    combinators: ['If', 'Array', 'OrNull'],
    tableFunctions: ['numbers', 'Numbers'],
  });

  it('resolves names as the engine does: exact first, then case-insensitive; aliases to their target', () => {
    expect(synthetic.allowsFunction('lower')).toBe(true);
    expect(synthetic.allowsFunction('Lower')).toBe(false);
    expect(synthetic.allowsFunction('UPPER')).toBe(true);
    expect(synthetic.allowsFunction('LOWER')).toBe(false); // lower is case-sensitive: unknown
    expect(synthetic.allowsFunction('reachAlias')).toBe(false);
  });

  it('refuses user-defined functions and allows combinator forms of allowed aggregates only', () => {
    expect(synthetic.allowsFunction('mine')).toBe(false);
    expect(synthetic.allowsFunction('sumIf')).toBe(true);
    expect(synthetic.allowsFunction('sumArrayIfOrNull')).toBe(true);
    expect(synthetic.allowsFunction('lowerIf')).toBe(false);
  });

  it('refuses a case variant of an allowed table function that names another table function', () => {
    expect(synthetic.allowsTableFunction('numbers')).toBe(false); // `Numbers` clashes with it
    expect(synthetic.allowsTableFunction('zeros')).toBe(true);
  });
});
