/**
 * The work embedded mode runs off its main event loop (common/offload.ts): the estimator's solve
 * (linear algebra on the statistics the main thread collected from ClickHouse) and the report's
 * shaping and rendering (series, chart compiles and the page, from data the main thread read). The
 * reading and writing stay on the main thread, on their own sessions; only pure computation comes
 * here. Both tasks are the in-process functions themselves, so the results are the same.
 */
// Only the pure modules, never a component's index: the thread must not load chDB (a second copy of
// its native library in one process keeps the process from exiting) nor Redis or HTTP clients.
import { noPause } from '../analysis/estimator/pause.js';
import { solveCosts, type CostSolution, type SolveOptions } from '../analysis/estimator/solve.js';
import type { SufficientStats } from '../analysis/estimator/stats.js';
import type { ReportInput } from '../analysis/reports/build-report.js';
import { loadDanfo } from '../analysis/reports/frames.js';
import { renderPage, type RenderedPage } from '../analysis/reports/write-reports.js';
import type { Offload } from '../common/offload.js';

export const tasks = {
  /** The solve of estimate.ts, without time slicing: nothing else runs on this thread. */
  'solve-costs': ({ stats, options }: { stats: SufficientStats; options: SolveOptions }): Promise<CostSolution> =>
    solveCosts(stats, options, noPause),
  'render-report': (input: ReportInput): Promise<RenderedPage> => renderPage(input),
  /** Nothing: the thread is up and this module's imports are loaded (a start waits for it). */
  'warm-up': (): null => null,
  /** Loads the report's libraries (danfo, ~4 s) ahead of the first report. */
  'preload-report-libraries': async (): Promise<null> => {
    await loadDanfo();
    return null;
  },
};

export type WorkerTaskName = keyof typeof tasks;

export const WORKER_TASKS_MODULE = new URL('./worker-tasks.ts', import.meta.url);

/** The estimator's solve and the report's rendering, run through `offload`. */
export function offloadedWork(offload: Offload) {
  return {
    solve: (stats: SufficientStats, options: SolveOptions) =>
      offload.run<CostSolution>('solve-costs', { stats, options }),
    render: (input: ReportInput) => offload.run<RenderedPage>('render-report', input),
    preload: () => offload.run<null>('preload-report-libraries', null),
    warmUp: () => offload.run<null>('warm-up', null),
  };
}
