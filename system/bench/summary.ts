/**
 * How one benchmark trial is judged and how trials are summarised. A rate is sustained when the
 * pipeline kept up with it: the database really ran at that rate (≥ 95 %), in the second half of the
 * step executions became queryable as fast as they ran (≥ 95 %: a backlog that keeps growing is not
 * sustained, however small it still is), at the end of the step the executions not yet queryable
 * were at most `maxBehindSeconds` of it, and once drained every execution and window was stored
 * exactly once (completeness 1).
 */
import type { StoredRun } from './stored-run.js';

export interface Trial {
  targetPerSecond: number;
  probabilityScale: number;
  executionsPerTick: number;
  seconds: number;
  executed: number;
  executedPerSecond: number;
  /** Executions queryable when the step ended, per second of the step. */
  storedPerSecond: number;
  /** Executions that became queryable during the second half of the step, per second. */
  steadyStoredPerSecond: number;
  /** When ticking stopped: executions run but not yet queryable, and where the rest waited. */
  backlogAtEnd: { executions: number; seconds: number; outboxRecords: number; queuedJobs: number; activeJobs: number };
  /** Seconds from the end of the step until the outbox and the queues were empty. */
  drainSeconds: number | null;
  completeness: number;
  missing: number;
  duplicatesCounted: number;
  windows: { byDatabase: number; stored: number };
  freshnessMs: StoredRun['freshnessMs'];
  worstTickLagMs: number;
  /** Raw addBulk jobs/s measured right before the trial, and steadyStoredPerSecond ÷ it. */
  referenceJobsPerSecond: number;
  ratioToAddBulk: number;
  sustained: boolean;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : Math.round(((s[mid - 1]! + s[mid]!) / 2) * 100) / 100;
}

export function isSustained(t: Omit<Trial, 'sustained'>, maxBehindSeconds: number): boolean {
  return (
    t.completeness === 1 &&
    t.duplicatesCounted === 0 &&
    t.windows.stored === t.windows.byDatabase &&
    t.drainSeconds !== null &&
    t.executedPerSecond >= 0.95 * t.targetPerSecond &&
    t.steadyStoredPerSecond >= 0.95 * t.executedPerSecond &&
    t.backlogAtEnd.seconds <= maxBehindSeconds
  );
}

export interface StepSummary {
  targetPerSecond: number;
  trials: number;
  /** Medians over the trials. */
  executedPerSecond: number;
  storedPerSecond: number;
  steadyStoredPerSecond: number;
  backlogAtEndSeconds: number;
  referenceJobsPerSecond: number;
  ratioToAddBulk: number;
  freshnessP50Ms: number | null;
  freshnessP99Ms: number | null;
  /** The worst trial's completeness: one incomplete trial is one too many. */
  completeness: number;
  /** Sustained in the majority of the trials. */
  sustained: boolean;
}

function medianOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : median(v);
}

export function summarise(trials: readonly Trial[]): StepSummary {
  return {
    targetPerSecond: trials[0]!.targetPerSecond,
    trials: trials.length,
    executedPerSecond: median(trials.map((t) => t.executedPerSecond)),
    storedPerSecond: median(trials.map((t) => t.storedPerSecond)),
    steadyStoredPerSecond: median(trials.map((t) => t.steadyStoredPerSecond)),
    backlogAtEndSeconds: median(trials.map((t) => t.backlogAtEnd.seconds)),
    referenceJobsPerSecond: median(trials.map((t) => t.referenceJobsPerSecond)),
    ratioToAddBulk: median(trials.map((t) => t.ratioToAddBulk)),
    freshnessP50Ms: medianOrNull(trials.map((t) => t.freshnessMs.p50Ms)),
    freshnessP99Ms: medianOrNull(trials.map((t) => t.freshnessMs.p99Ms)),
    completeness: Math.min(...trials.map((t) => t.completeness)),
    sustained: trials.filter((t) => t.sustained).length * 2 > trials.length,
  };
}
