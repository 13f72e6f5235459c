/**
 * Kill the scheduler (SIGKILL, as a separate process: `npm run scheduler`) in the middle of a run at
 * probability scale 10 and restart it: the windows go back to level within seconds of the restart,
 * and no execution is postponed twice by mistake (a restart that trusted a stale plan would postpone
 * an already postponed execution past its budget, or move it a third time).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { policySettings } from '../../../scheduler/options.js';
import { ROOT } from '../../helpers/run-cli.js';
import { ServiceProcess } from '../../system/helpers/service-process.js';
import { sleep, waitFor } from '../../system/helpers/wait-for.js';
import { REDIS_URL, spread, startLiveDatabase, type LiveDatabase } from './live-database.js';

const dirs: string[] = [];
let live: LiveDatabase | undefined;
const children: ServiceProcess[] = [];

afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await live?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('scheduler restart', () => {
  it('after a SIGKILL, a restarted scheduler levels the windows again and never postpones twice', async () => {
    live = await startLiveDatabase({ seed: 'restart-1', probabilityScale: 10 });
    const data = mkdtempSync(join(tmpdir(), 'sched-ch-'));
    dirs.push(data);
    // The scheduler reads estimates from ClickHouse: seed one version (the true costs) as analysis would.
    execFileSync(process.execPath, ['--import', 'tsx', 'test/scheduler/live/seed-estimates.ts', data], {
      cwd: ROOT,
      input: JSON.stringify(live.server.db.groundTruth()),
    });
    const env = {
      SERVER_URL: live.server.url,
      REDIS_URL,
      REDIS_PREFIX: live.prefix,
      CLICKHOUSE_DATA: data,
      SCHEDULER_STATS_INTERVAL_MS: '200',
    };
    const start = async (name: string) => {
      const p = new ServiceProcess(name, 'scheduler/main.ts', [], env);
      children.push(p);
      await p.waitForLog('scheduler running', 60_000);
      return p;
    };
    const at = () => Date.now();
    const windowsBetween = (from: number, to: number) =>
      live!.windows.filter((w) => w.timestamp >= from && w.timestamp < to);

    const first = await start('scheduler-a');
    const firstRunning = at();
    await sleep(8000);
    const killedAt = at();
    first.kill('SIGKILL');
    await first.exited();
    await sleep(4000);
    const second = await start('scheduler-b');
    const restartedAt = at();
    await sleep(10_000);

    const before = spread(windowsBetween(firstRunning + 3000, killedAt));
    const down = spread(windowsBetween(killedAt + 1500, restartedAt));
    const after = spread(windowsBetween(restartedAt + 3000, at()));
    // Within seconds of the restart, the spread is back to what it was before the kill, and well
    // below the unscheduled spread while it was down.
    expect(down.maxAvgMean).toBeGreaterThan(before.maxAvgMean + 0.05);
    expect(after.maxAvgMean).toBeLessThan(down.maxAvgMean - 0.05);
    expect(after.maxAvgMean).toBeLessThan(before.maxAvgMean + 0.05);
    expect(after.inBandRate).toBeGreaterThanOrEqual(Math.min(0.5, before.inBandRate));

    // No execution was postponed twice by mistake: each stays within the budget and was moved at
    // most twice (postponed once to its deadline, brought forward once).
    const budget = policySettings.latencyBudget.default;
    const over = live.executed.filter((e) => e.addedDelay > budget || e.delayCount > 2);
    expect(over).toEqual([]);
    expect(live.executed.filter((e) => e.delayedBy === 'scheduler').length).toBeGreaterThan(200);

    // The restarted scheduler rebuilt its plan and decides in time.
    const figures = await waitFor('the restarted scheduler’s figures', 5000, async () => {
      const s = (await (await fetch(`${live!.server.url}/stats`)).json()) as {
        scheduler: { decisions: number; hitRate: number; resyncs: number } | null;
      };
      return s.scheduler && s.scheduler.decisions > 0 ? s.scheduler : undefined;
    });
    expect(figures.resyncs).toBeGreaterThanOrEqual(1);
    expect(figures.hitRate).toBeGreaterThanOrEqual(0.98);
    await second.stop('SIGTERM');
  }, 120_000);
});
