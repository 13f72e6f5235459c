/**
 * Waiting between retries: capped exponential backoff with jitter (so that several workers that
 * failed together do not retry together), and a sleep that shutdown can cut short.
 */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/** Wait before retry number `attempt` (1 = first retry): base·2^(attempt−1), capped, ±25 %. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = options.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  const capped = Math.min(exponential, options.maxMs);
  return Math.max(1, Math.round(capped * (0.75 + 0.5 * random())));
}

/** Resolves after `ms`, or at once when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
