import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

const SIM = 'server/sim-cli.ts';
const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
const parse = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });

describe('npm run sim', () => {
  it('writes JSON Lines with queued, executed and window events, ticks from 0', async () => {
    const out = join(dir, 'a.jsonl');
    const r = await runCli(SIM, ['--seed', '7', '--ticks', '2000', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/done in .* 2000 ticks/);
    const events = parse(readFileSync(out, 'utf8'));
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(['executed', 'queued', 'window']);
    const q = events.find((e) => e.type === 'queued')!;
    expect(Object.keys(q)).toEqual(expect.arrayContaining(['executionId', 'queryId', 'tick', 'scheduledTick']));
    expect(q.tick).toBe(0);
    const x = events.find((e) => e.type === 'executed')!;
    expect(Object.keys(x)).toEqual(
      expect.arrayContaining(['executionId', 'queryId', 'queuedTick', 'executedTick', 'addedDelay']),
    );
    const windows = events.filter((e) => e.type === 'window');
    expect(windows).toHaveLength(200);
    expect(windows[0]).toMatchObject({ windowId: 0, firstTick: 0, lastTick: 9, samples: 10 });
    expect(Object.keys(windows[0]!.cpu as object).sort()).toEqual(['average', 'max', 'min']);
  });

  it('is deterministic by seed and reflects the parameters', async () => {
    const run = async (name: string, ...args: string[]) => {
      const out = join(dir, name);
      expect((await runCli(SIM, ['--ticks', '500', '--out', out, '--quiet', ...args])).code).toBe(0);
      return readFileSync(out, 'utf8');
    };
    const a = await run('d1.jsonl', '--seed', 'x');
    expect(await run('d2.jsonl', '--seed', 'x')).toBe(a);
    expect(await run('d3.jsonl', '--seed', 'y')).not.toBe(a);
    const heavy = parse(await run('d4.jsonl', '--seed', 'x', '--probability-scale', '10', '--default-delay', '3'));
    const light = parse(a);
    const queuedCount = (es: typeof light) => es.filter((e) => e.type === 'queued').length;
    expect(queuedCount(heavy)).toBeGreaterThan(6 * queuedCount(light));
    for (const e of heavy.filter((e) => e.type === 'executed')) {
      expect(e.executedTick).toBe((e.queuedTick as number) + 3);
    }
  });

  it('puts the catalog with true costs and base probabilities first with --truth', async () => {
    const r = await runCli(SIM, ['--seed', '7', '--ticks', '10', '--truth', '--query-count', '30']);
    const [first] = parse(r.stdout);
    expect(first!.type).toBe('catalog');
    const queries = first!.queries as Record<string, unknown>[];
    expect(queries).toHaveLength(30);
    expect(Object.keys(queries[0]!).sort()).toEqual(['cpu', 'id', 'io', 'memory', 'probability', 'profile']);
    const plain = await runCli(SIM, ['--seed', '7', '--ticks', '10', '--query-count', '30']);
    expect(plain.stdout).not.toContain('"catalog"');
  });

  it.each([
    [['--query-count', '0'], /--query-count/],
    [['--query-count', 'ten'], /queryCount \(--query-count\) = "ten": must be an integer/],
    [['--probability-scale', '-1'], /--probability-scale/],
    [['--tick-ms', '1.5'], /--tick-ms/],
    [['--default-delay', '0'], /--default-delay/],
    [['--traffic-period', '0'], /--traffic-period/],
    [['--traffic-amplitude', '2'], /trafficAmplitude/],
    [['--max-delay', '1e3'], /--max-delay/],
    [['--ticks', '-5'], /--ticks/],
    [['--start-time', 'yesterday'], /--start-time/],
    [['--no-such-flag'], /unknown option/],
    [['--seed'], /argument missing/],
  ])('refuses %j with exit code 2 and a message naming the flag', async (args, message) => {
    const r = await runCli(SIM, ['--out', join(dir, 'never.jsonl'), ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('reads parameters from the environment and names the variable when one is bad', async () => {
    const bad = await runCli(SIM, ['--ticks', '1'], { SIM_QUERY_COUNT: '-3' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SIM_QUERY_COUNT');
    const good = await runCli(SIM, ['--ticks', '1', '--truth'], { SIM_QUERY_COUNT: '9' });
    expect((parse(good.stdout)[0]!.queries as unknown[]).length).toBe(9);
    // A flag wins over the environment.
    const both = await runCli(SIM, ['--ticks', '1', '--truth', '--query-count', '4'], { SIM_QUERY_COUNT: '9' });
    expect((parse(both.stdout)[0]!.queries as unknown[]).length).toBe(4);
  });
});
