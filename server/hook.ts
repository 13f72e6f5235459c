/**
 * A synchronous, lossless hook: every listener sees every event, in order, before the engine moves
 * on. That is what lets the capture layer write a tick's records to disk before the next tick.
 * A listener that throws stops the tick (fail-stop): losing a record silently would be worse.
 */
export type Listener<T> = (event: T) => void;

export class Hook<T> {
  private listeners: Listener<T>[] = [];

  /** Adds a listener; returns a function that removes it. */
  add(listener: Listener<T>): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  get size(): number {
    return this.listeners.length;
  }

  emit(event: T): void {
    for (const listener of this.listeners) listener(event);
  }
}
