/**
 * Runs: every start of the server is a run (common/contracts.ts RunEvent). Its id is the start
 * time, sortable and readable, and a random suffix so two starts in one second never share one.
 */
import { randomBytes } from 'node:crypto';
import type { RunEvent } from '../common/contracts.js';
import type { RunStart } from './capture/index.js';
import type { SimulationOptions } from './options.js';

/** `20261203T141502Z-3f9a1c`. */
export function newRunId(now = Date.now()): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** How the run is scheduled, as the process that starts it knows it. */
export interface RunScheduling {
  mode: RunEvent['scheduler'];
  /** 'on': the scheduler starts this long after the database. */
  startAfterMs?: number;
  /** Its settings, recorded with the run's parameters. */
  settings?: Record<string, unknown>;
}

/** The start record of a run that begins now, at `firstTick`. */
export function runStart(params: {
  runId: string;
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  firstTick: number;
  scheduling: RunScheduling;
  startedAt?: number;
}): RunStart {
  const { simulation: sim, scheduling } = params;
  const startedAt = params.startedAt ?? Date.now();
  return {
    runId: params.runId,
    startedAt,
    firstTick: params.firstTick,
    seed: sim.seed,
    queryCount: sim.queryCount,
    probabilityScale: sim.probabilityScale,
    tickMs: sim.tickMs,
    metricsWindowTicks: sim.metricsWindowTicks,
    scheduler: scheduling.mode,
    schedulerStartedAt: scheduling.mode === 'on' ? startedAt + (scheduling.startAfterMs ?? 0) : null,
    parameters: {
      simulation: sim,
      scheduler: { mode: scheduling.mode, startAfterMs: scheduling.startAfterMs ?? null, ...scheduling.settings },
    },
  };
}
