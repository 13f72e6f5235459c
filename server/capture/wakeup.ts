/**
 * A level-triggered wake-up for one waiting loop: `notify()` wakes the current `wait()`, or the next
 * one if nobody is waiting yet, so a notification that arrives between two waits is never lost.
 * The tick path calls `notify()` on every commit, so it must stay a few instructions long.
 */
export class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  notify(): void {
    const resolve = this.resolve;
    if (resolve) {
      this.settle();
      resolve();
    } else {
      this.pending = true;
    }
  }

  /** Resolves on the next notification, or after `timeoutMs` (never rejects). */
  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      if (timeoutMs !== undefined) {
        this.timer = setTimeout(() => {
          this.settle();
          resolve();
        }, timeoutMs);
      }
    });
  }

  private settle(): void {
    this.resolve = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
