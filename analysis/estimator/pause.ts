/**
 * Cooperative time slicing for the O(n³) loops of the solve. In the embedded mode every component
 * shares one Node process, and the simulated database ticks every 100 ms: a solve that held the
 * event loop for seconds (N = 1000 queries) would stall it. The loops call `pause()` once per
 * column; it yields to the event loop (setImmediate) when the current slice has run `sliceMs`.
 * Embedded mode now runs the solve in a worker thread (common/offload.ts, system/worker-tasks.ts),
 * which isolates it fully; the slicing stays for `--without-offload` and for processes that run
 * the solve beside other work of their own.
 */
export type Pause = () => Promise<void> | null;

export function timeSlicer(sliceMs = 15): Pause {
  let sliceStart = performance.now();
  return () => {
    if (performance.now() - sliceStart < sliceMs) return null;
    return new Promise((resolve) =>
      setImmediate(() => {
        sliceStart = performance.now();
        resolve();
      }),
    );
  };
}

/** Never yields: for tests and tools that run alone. */
export const noPause: Pause = () => null;
