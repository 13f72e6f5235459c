/**
 * Bad input to every CLI (issue 6, item 4), table-driven. The entry points are derived from
 * package.json (every `tsx <file>` script), and each entry point's settings from what it imports
 * (`…Settings` objects, `…Specs()` lists), so a new entry point is covered without editing this
 * file. Most cases run in-process through the settings and CLI layers (common/settings.ts,
 * common/cli.ts); each real entry point is also spawned once to prove the exit-code path and that
 * nothing was written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT_USAGE, readCommandLine } from '../../common/cli.js';
import { ConfigError } from '../../common/errors.js';
import { loadSettings, type Setting, type SettingSpecs, type SettingValue } from '../../common/settings.js';
import { ROOT, runCli } from '../helpers/run-cli.js';

const scripts = (
  JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

/** [npm script, entry file] for every script that runs a TypeScript entry point. */
const entries: [string, string][] = Object.entries(scripts).flatMap(([name, command]) => {
  const m = /^tsx (\S+\.ts)\b/.exec(command);
  return m ? [[name, m[1]!] as [string, string]] : [];
});

const isSetting = (v: unknown): v is Setting<SettingValue> =>
  typeof v === 'object' && v !== null && typeof (v as { parse?: unknown }).parse === 'function' && 'doc' in v;
const isSpecs = (v: unknown): v is SettingSpecs =>
  typeof v === 'object' && v !== null && Object.keys(v).length > 0 && Object.values(v).every(isSetting);

/**
 * The settings an entry point reads, found from its imports: every imported name ending in
 * `Settings` that is a settings object, and every `…Specs()` function's lists. Settings an entry
 * declares inline are not found here (they use the same builders, tested through the others) but
 * are still exercised by the spawned run.
 */
async function settingsOf(entry: string): Promise<[string, SettingSpecs][]> {
  const source = fs.readFileSync(path.join(ROOT, entry), 'utf8');
  const found: [string, SettingSpecs][] = [];
  for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(\.[^']+)'/g)) {
    const names = m[1]!
      .split(',')
      .map((n) => n.trim().replace(/^type\s+/, ''))
      .map((n) => n.split(/\s+as\s+/)[0]!)
      .filter((n) => /(Settings|Specs)$/.test(n));
    if (names.length === 0) continue;
    const file = path.resolve(ROOT, path.dirname(entry), m[2]!).replace(/\.js$/, '.ts');
    const mod = (await import(file)) as Record<string, unknown>;
    for (const name of names) {
      const value = mod[name];
      if (isSpecs(value)) found.push([name, value]);
      else if (typeof value === 'function' && name.endsWith('Specs')) {
        const lists = (value as () => unknown)();
        if (typeof lists === 'object' && lists !== null) {
          for (const [k, v] of Object.entries(lists)) if (isSpecs(v)) found.push([`${name}().${k}`, v]);
        }
      }
    }
  }
  return found;
}

const perEntry = new Map<string, [string, SettingSpecs][]>();
for (const [, entry] of entries) perEntry.set(entry, await settingsOf(entry));

/** Every distinct setting of every entry point, with the key it has in its object. */
const allSettings = new Map<Setting<SettingValue>, string>();
for (const lists of perEntry.values()) {
  for (const [, specs] of lists) for (const [key, s] of Object.entries(specs)) allSettings.set(s, key);
}

/** Values every setting of a kind must refuse, and the range ends found from its rule. */
function hostileValues(spec: Setting<SettingValue>): string[] {
  const junk = ['\u0000', 'a\u0000b', '__proto__', 'constructor', '../../../../etc/passwd'];
  if (spec.isSwitch) return ['maybe', '2', 'yes please', 'truee', ...junk];
  if (typeof spec.default === 'number') {
    const numbers = [
      '',
      ' ',
      'abc',
      'NaN',
      'Infinity',
      '-Infinity',
      '1e400',
      '0x10',
      '12abc',
      '1_000',
      '١٢',
      '9'.repeat(400),
      '1 2',
    ];
    const probe = spec.parse('abc');
    const rule = probe.ok ? '' : probe.rule;
    const between = /between (-?[\d.]+) and (-?[\d.]+)/.exec(rule);
    const atLeast = /≥ (-?[\d.]+)/.exec(rule);
    const above = /> (-?[\d.]+)/.exec(rule);
    const atMost = /≤ (-?[\d.]+)/.exec(rule);
    const lo = between?.[1] ?? atLeast?.[1];
    const hi = between?.[2] ?? atMost?.[1];
    if (lo !== undefined) numbers.push(String(Number(lo) - 1));
    if (above) numbers.push(above[1]!, String(Number(above[1]) - 1));
    if (hi !== undefined) numbers.push(String(Number(hi) + 1));
    if (/integer/.test(rule)) numbers.push('1.5', '1e3');
    return [...numbers, ...junk];
  }
  // Text (free or one of a set): never empty, never megabytes, never control characters.
  return ['', 'x'.repeat(100_000), ...junk.filter((v) => spec.parse(v).ok === false || v.includes('\u0000'))];
}

describe('entry points', () => {
  it('are found in package.json, and every one parses its command line through common/cli.ts', () => {
    expect(entries.length).toBeGreaterThan(10);
    for (const [name, entry] of entries) {
      const source = fs.readFileSync(path.join(ROOT, entry), 'utf8');
      expect(source, `npm run ${name} (${entry}) must use readCommandLine`).toMatch(/readCommandLine\(/);
    }
  });

  it('declare settings that the settings layer can test', () => {
    expect(allSettings.size).toBeGreaterThan(80);
    for (const [name, entry] of entries) {
      if (!/^(start|server|ingest|dead-letter|analysis|sim|sql|report|verify|lab|eval:estimates)$/.test(name)) continue;
      expect(perEntry.get(entry)!.length, `${name}: settings found from imports`).toBeGreaterThan(0);
    }
  });
});

describe('the settings layer refuses hostile values of every setting of every entry point', () => {
  const cases = [...allSettings].map(([spec, key]) => [spec.flag ?? spec.env ?? key, key, spec] as const);
  it.each(cases)('%s', (_label, key, spec) => {
    for (const raw of hostileValues(spec)) {
      const sources: [string, { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv }][] = [];
      if (spec.flag && !spec.isSwitch) {
        const attr = spec.flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
        sources.push([spec.flag, { flags: { [attr]: raw } }]);
      }
      if (spec.env && raw !== '') sources.push([spec.env, { env: { [spec.env]: raw } }]);
      for (const [source, input] of sources) {
        let error: unknown;
        try {
          loadSettings({ [key]: spec }, input);
        } catch (e) {
          error = e;
        }
        expect(error, `${source} = ${JSON.stringify(raw.slice(0, 40))} must be refused`).toBeInstanceOf(ConfigError);
        const message = (error as ConfigError).message;
        expect(message).toContain(source);
        expect(message.length, 'the message stays one readable line').toBeLessThan(600);
      }
    }
  });
});

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

describe('the CLI layer: every entry point exits 2 naming the flag or variable', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
      throw new Exit(code === undefined || code === null ? undefined : Number(code));
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  /** The entry point's program with its settings (a flag shared by two lists is taken once, as the entry points do). */
  function parse(entry: string, argv: string[], env: NodeJS.ProcessEnv = {}): number | undefined {
    const lists = perEntry.get(entry)!.map(([, s]) => s);
    const seen = new Set<string>();
    const deduped = lists.map((specs) =>
      Object.fromEntries(
        Object.entries(specs).filter(([, s]) => {
          const id = s.flag ?? s.env ?? s.doc;
          if (seen.has(id)) return false;
          seen.add(id);
          return true;
        }),
      ),
    );
    try {
      readCommandLine({ name: entry, description: 'test', argv, env }, ...deduped);
      return undefined;
    } catch (e) {
      if (e instanceof Exit) return e.code;
      throw e;
    }
  }

  const withSettings = () => entries.filter(([, entry]) => perEntry.get(entry)!.length > 0);
  it.each(entries)('npm run %s: unknown flags, missing values, hostile values', (_name, entry) => {
    if (perEntry.get(entry)!.length === 0) return; // inline settings only: the spawned run covers it
    expect(withSettings().length).toBeGreaterThan(5);
    for (const argv of [['--no-such-flag'], ['--no-such-flag=1'], ['-x'], ['--__proto__', '1'], ['--constructor']]) {
      stderr = '';
      expect(parse(entry, argv), argv.join(' ')).toBe(EXIT_USAGE);
      expect(stderr).toContain(argv[0]!.split('=')[0]!);
    }
    for (const [, specs] of perEntry.get(entry)!) {
      for (const spec of Object.values(specs)) {
        const bad = hostileValues(spec);
        if (spec.flag && !spec.isSwitch) {
          stderr = '';
          expect(parse(entry, [spec.flag]), `${spec.flag} without a value`).toBe(EXIT_USAGE);
          expect(stderr).toContain(spec.flag);
          for (const raw of [bad[2]!, bad[1]!, 'x'.repeat(100_000)]) {
            stderr = '';
            expect(parse(entry, [spec.flag, raw]), `${spec.flag} ${raw.slice(0, 20)}`).toBe(EXIT_USAGE);
            expect(stderr).toContain(spec.flag);
            expect(stderr.length).toBeLessThan(600);
          }
        }
        if (spec.flag && spec.isSwitch) {
          stderr = '';
          expect(parse(entry, [`${spec.flag}=maybe`]), `${spec.flag}=maybe`).toBe(EXIT_USAGE);
          expect(stderr).toContain(spec.flag);
        }
        if (spec.env) {
          stderr = '';
          const raw = bad.find((v) => v !== '' && v !== ' ')!;
          expect(parse(entry, [], { [spec.env]: raw }), `${spec.env}=${raw.slice(0, 20)}`).toBe(EXIT_USAGE);
          expect(stderr).toContain(spec.env);
        }
      }
    }
  });
});

describe('the real entry points (spawned once each)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-cli-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  // Every place an entry point could write, pointed into `work`: it must stay empty.
  const dirs = {
    DATA_DIR: path.join(work, 'data'),
    OUTBOX_DIR: path.join(work, 'outbox'),
    CLICKHOUSE_DATA: path.join(work, 'clickhouse'),
    PRIVATE_REDIS_DIR: path.join(work, 'redis'),
    REPORTS_DIR: path.join(work, 'reports'),
    REPORT_OUT: path.join(work, 'report-out'),
    REDIS_URL: 'redis://127.0.0.1:1',
    QUERY_URL: 'http://127.0.0.1:1',
  };

  it('each exits 2 on an unknown flag, naming it, having written nothing', async () => {
    const runs: [string, string[], NodeJS.ProcessEnv, string][] = entries.map(([name, entry]) => [
      entry,
      ['--no-such-flag', '1'],
      {},
      `${name}: --no-such-flag`,
    ]);
    // And the bad-value path of npm start, through the environment and a flag.
    runs.push(['system/main.ts', [], { QUERY_PORT: '99999' }, 'start: QUERY_PORT']);
    runs.push(['system/main.ts', ['--clickhouse-http-port', '-1'], {}, 'start: --clickhouse-http-port']);
    runs.push(['server/main.ts', ['--port', '1e3'], {}, 'server: --port']);
    const expected = (label: string) => label.split(': ')[1]!;
    const queue = [...runs];
    const failures: string[] = [];
    const worker = async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        const [entry, args, env, label] = run;
        const r = await runCli(entry, args, { ...dirs, ...env });
        if (r.code !== EXIT_USAGE) failures.push(`${label}: exit ${r.code}\n${r.stderr.slice(0, 500)}`);
        else if (!r.stderr.includes(expected(label))) failures.push(`${label}: stderr does not name it: ${r.stderr}`);
        else if (r.stdout !== '') failures.push(`${label}: wrote to stdout: ${r.stdout.slice(0, 200)}`);
      }
    };
    await Promise.all([worker(), worker()]);
    expect(failures).toEqual([]);
    expect(fs.readdirSync(work)).toEqual([]);
  }, 240_000);
});
