/**
 * The SQL cookbook in README.md is executable documentation: every ```sql block under
 * "## SQL cookbook" runs through the read-only path against a chDB populated by a 4-minute
 * simulation (scheduler switched on at minute 2, two estimate versions) and must return rows.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type ReadOnlyPool } from '../../clickhouse/index.js';
import { openTempClickHouse, openTestReader, type TempClickHouse } from '../clickhouse/helpers.js';
import { ROOT } from '../helpers/run-cli.js';
import { insertEstimates, populate } from './reports-fixture.js';

interface Recipe {
  heading: string;
  sql: string;
}

/** The ```sql blocks of the `## SQL cookbook` section, each with the `###` heading above it. */
function cookbookRecipes(markdown: string): Recipe[] {
  const start = markdown.search(/^## SQL cookbook\s*$/m);
  if (start < 0) return [];
  const rest = markdown.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const recipes: Recipe[] = [];
  let heading = '';
  for (const block of section.split(/^(###[^\n]*|```sql\n[\s\S]*?^```)$/m)) {
    if (block.startsWith('###')) heading = block.replace(/^###\s*/, '');
    else if (block.startsWith('```sql'))
      recipes.push({ heading, sql: block.replace(/^```sql\n/, '').replace(/```$/, '') });
  }
  return recipes;
}

const recipes = cookbookRecipes(readFileSync(`${ROOT}README.md`, 'utf8'));
let ch: TempClickHouse;
let reader: ReadOnlyPool;

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  const data = await populate(ch.client, { seed: 'cookbook', minutes: 4, schedulerFromMinute: 2 });
  const estimates = await insertEstimates(ch.client, data.truth, [
    Date.UTC(2026, 0, 1, 0, 1),
    Date.UTC(2026, 0, 1, 0, 3),
  ]);
  expect(estimates, 'the estimates tables (migration 010) exist').toBe(true);
  // Reads through the read-only path (the guard, readonly = 1, the limits), as npm run sql does.
  reader = await openTestReader(ch);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await ch?.close();
});

describe('SQL cookbook (README.md)', () => {
  it('has recipes, each under a ### heading that says what it answers', () => {
    expect(recipes.length).toBeGreaterThanOrEqual(8);
    for (const r of recipes) expect(r.heading, r.sql.slice(0, 60)).toMatch(/\?|\)$/);
    const all = recipes.map((r) => r.sql).join('\n');
    for (const table of ['spike.executions_dedup', 'spike.windows_dedup', 'spike.estimates'])
      expect(all).toContain(table);
  });

  it.each(recipes.map((r) => [r.heading, r.sql]))('%s — runs read-only and returns rows', async (_heading, sql) => {
    const result = await reader.query(sql);
    expect(result.columns.length).toBeGreaterThan(0);
    expect(result.rows.length).toBeGreaterThan(0);
  });
});
