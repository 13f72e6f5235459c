/**
 * Named errors of the analysis component. Callers act on the class or its `code`: a failed run is
 * logged and counted, and the previous estimates version stays in force whatever the error was.
 */
import { SpikeError } from '../common/errors.js';

/** The numerical solve could not produce estimates (e.g. a matrix that is not positive definite). */
export class SolveError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('SOLVE_FAILED', message, options);
  }
}

/** One estimation run failed at `step`; nothing it wrote became current. */
export class AnalysisRunError extends SpikeError {
  constructor(
    readonly step: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('ANALYSIS_RUN_FAILED', `analysis run failed while ${step}: ${message}`, options);
  }
}

/**
 * The run lost its exclusive lock before committing (it ran longer than the lock's time to live
 * while renewals failed, e.g. Redis away or the process paused): another instance may be running,
 * so this run does not commit.
 */
export class LockLostError extends SpikeError {
  constructor(readonly key: string) {
    super('ANALYSIS_LOCK_LOST', `the analysis lock ${key} was lost before the run committed`);
  }
}

/** The analysis component was used after close(). */
export class AnalysisClosedError extends SpikeError {
  constructor() {
    super('ANALYSIS_CLOSED', 'the analysis component is closed');
  }
}
