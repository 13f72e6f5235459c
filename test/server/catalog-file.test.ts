import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CatalogMismatchError, chooseCatalog } from '../../server/catalog-file.js';
import { newRunId } from '../../server/run.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catalog-file-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(work, String(n++));
const choose = (dataDir: string, o: { seed?: string; queryCount?: number; newCatalog?: boolean } = {}) =>
  chooseCatalog({ dataDir, seed: o.seed, queryCount: o.queryCount, newCatalog: o.newCatalog ?? false });

describe('the catalog a data directory was made with', () => {
  it('draws a seed for a new directory, records it once the system started, and reuses it after', () => {
    const dir = fresh();
    const first = choose(dir);
    expect(first).toMatchObject({ reused: false, queryCount: 100 });
    expect(fs.existsSync(path.join(dir, 'catalog.json'))).toBe(false); // nothing before keep()
    first.keep();
    const again = choose(dir);
    expect(again).toMatchObject({ seed: first.seed, queryCount: 100, reused: true });
    expect(choose(dir, { seed: first.seed, queryCount: 100 }).reused).toBe(true); // asking for the same is fine
  });

  it('refuses another seed or query count, naming both ways out, and changes nothing', () => {
    const dir = fresh();
    choose(dir, { seed: 'one', queryCount: 50 }).keep();
    const before = fs.readFileSync(path.join(dir, 'catalog.json'), 'utf8');
    expect(() => choose(dir, { seed: 'two' })).toThrow(CatalogMismatchError);
    expect(() => choose(dir, { seed: 'two' })).toThrow(
      /seed one and 50 queries.*--seed two.*--data-dir.*--new-catalog/,
    );
    expect(() => choose(dir, { queryCount: 51 })).toThrow(/--query-count 51/);
    expect(fs.readFileSync(path.join(dir, 'catalog.json'), 'utf8')).toBe(before);
  });

  it('starts a new catalog with --new-catalog', () => {
    const dir = fresh();
    choose(dir, { seed: 'one' }).keep();
    const next = choose(dir, { seed: 'two', newCatalog: true });
    expect(next).toMatchObject({ seed: 'two', reused: false });
    next.keep();
    expect(choose(dir).seed).toBe('two');
  });
});

describe('run ids', () => {
  it('are the start time, sortable, with a random suffix', () => {
    const at = Date.UTC(2026, 11, 3, 14, 15, 2, 345);
    const a = newRunId(at);
    expect(a).toMatch(/^20261203T141502Z-[0-9a-f]{6}$/);
    expect(newRunId(at)).not.toBe(a);
    expect([newRunId(at + 1000), a].sort()[0]).toBe(a);
  });
});
