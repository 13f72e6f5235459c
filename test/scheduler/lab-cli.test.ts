import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

const LAB = 'scheduler/lab-cli.ts';

describe('lab CLI', () => {
  it('prints the policies, the sweep and the load as JSON, and writes a Vega-Lite spec', async () => {
    const spec = join(mkdtempSync(join(tmpdir(), 'lab-')), 'sweep.vl.json');
    const r = await runCli(LAB, [
      '--json',
      '--seeds',
      'a,b',
      '--seconds',
      '60',
      '--probability-scale',
      '5',
      '--latency-budget',
      '6',
      '--sweep',
      '0,3',
      '--vega-out',
      spec,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      config: { seeds: string[]; ticks: number; latencyBudget: number; estimator: string };
      policies: Record<string, unknown>[];
      sweep: { latencyBudget: number; name: string }[];
      load: { executionsPerTick: number };
    };
    expect(out.config).toMatchObject({ seeds: ['a', 'b'], ticks: 600, latencyBudget: 6 });
    expect(out.config.estimator).toMatch(/^product \(ridge-eb\/bounds, every 30 windows, settle 3\)$/);
    expect(out.policies.map((p) => p.name)).toEqual([
      'none',
      'greedy-oracle',
      'policy-oracle',
      'policy-estimated',
      'offline-window',
    ]);
    for (const p of out.policies) {
      for (const key of ['inBandRate', 'maxAvgP50', 'maxAvgP95', 'minAvgP5', 'minAvgP50']) {
        expect(typeof p[key]).toBe('number');
      }
      expect(p.inBandRate as number).toBeLessThanOrEqual(1); // a fraction, not a percentage
      expect(Object.keys(p)).toEqual(expect.arrayContaining(['addedLatencyMean', 'addedLatencyP99']));
    }
    expect(out.sweep.map((s) => s.latencyBudget)).toEqual([0, 0, 0, 3, 3, 3]);
    expect(out.load.executionsPerTick).toBeGreaterThan(3);
    const vl = JSON.parse(readFileSync(spec, 'utf8')) as { $schema: string; data: { values: unknown[] } };
    expect(vl.$schema).toContain('vega-lite');
    expect(vl.data.values.length).toBe(7);
  });

  it('prints a table without --json', async () => {
    const r = await runCli(LAB, ['--seconds', '20', '--policies', 'none,policy-oracle']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/policy-oracle/);
    expect(r.stdout).not.toMatch(/greedy-oracle/);
  });

  it('selects the estimator of policy-estimated and its solve interval and settle horizon', async () => {
    const product = await runCli(LAB, [
      '--seconds',
      '60',
      '--policies',
      'policy-estimated',
      '--estimator-interval-windows',
      '5',
      '--estimator-settle-windows',
      '0',
    ]);
    expect(product.code).toBe(0);
    expect(product.stdout).toMatch(/estimator product \(ridge-eb\/bounds, every 5 windows, settle 0\)/);
    const filter = await runCli(LAB, [
      '--seconds',
      '20',
      '--policies',
      'policy-estimated',
      '--estimator',
      'window-regression',
    ]);
    expect(filter.code).toBe(0);
    expect(filter.stdout).toMatch(/estimator window-regression;/);
  });

  it('--frontier prints both policies at each setting with the proven bound beside them, and writes its chart', async () => {
    const spec = join(mkdtempSync(join(tmpdir(), 'lab-')), 'frontier.vl.json');
    const r = await runCli(LAB, [
      '--frontier',
      '--json',
      '--seconds',
      '60',
      '--probability-scale',
      '5',
      '--frontier-knob',
      'target-and-budget',
      '--frontier-settings',
      '0.5,2',
      '--vega-out',
      spec,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      config: { knob: string; settings: number[] };
      rows: Record<string, number | string>[];
      bound: { byBudget: { latencyBudget: number; inBandRate: number }[]; curve: unknown[]; countRatio: number[] };
    };
    expect(out.config).toMatchObject({ knob: 'target-and-budget', settings: [0.5, 2] });
    expect(out.rows.map((x) => [x.name, x.latencyBudget, x.targetLatency])).toEqual([
      ['policy-estimated', 2, 0.5],
      ['policy-oracle', 2, 0.5],
      ['policy-estimated', 8, 2],
      ['policy-oracle', 8, 2],
    ]);
    for (const x of out.rows) {
      // The bound is proven: no measured point may exceed it.
      expect(x.inBandRate as number).toBeLessThanOrEqual(x.boundAtMeanLatency as number);
      expect(x.boundAtMeanLatency as number).toBeLessThanOrEqual(x.boundAtBudget as number);
      expect(x.addedLatencyMax as number).toBeLessThanOrEqual(x.latencyBudget as number);
    }
    expect(out.bound.byBudget.map((b) => b.latencyBudget)).toEqual([0, 2, 8]);
    expect(out.bound.countRatio[0]).toBeGreaterThan(1.2);
    const vl = JSON.parse(readFileSync(spec, 'utf8')) as { $schema: string; datasets: { points: unknown[] } };
    expect(vl.$schema).toContain('vega-lite');
    expect(vl.datasets.points).toHaveLength(4);
  });

  it.each([
    [['--frontier', '--frontier-settings', '700'], /--frontier-settings.*budget 700/],
    [['--frontier', '--frontier-knob', 'target-latency', '--frontier-settings', '11'], /target ≤ the budget/],
    [['--frontier', '--frontier-knob', 'magic'], /--frontier-knob/],
    [['--probability-scale', '-1'], /--probability-scale/],
    [['--latency-budget', '700'], /latencyBudget.*maximum delay/],
    [['--sweep', '1,a'], /--sweep/],
    [['--policies', 'none,magic'], /unknown policy magic/],
    [['--estimator', 'magic'], /--estimator/],
    [['--estimator-interval-windows', '0'], /--estimator-interval-windows/],
    [['--bogus'], /unknown option/],
  ])('refuses %j with exit code 2 and a clear message', async (args, message) => {
    const r = await runCli(LAB, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
