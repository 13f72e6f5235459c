/** Polling until a condition holds, with a deadline that names what was awaited. */

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Calls `check` every 100 ms until it returns something other than false/undefined, and returns that. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | false | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false && v !== undefined) return v;
    if (Date.now() > deadline) throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
