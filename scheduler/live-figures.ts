/**
 * The live scheduler's own figures: decision hit rate (ARCHITECTURE.md: share of decisions applied
 * before the execution ran, as intended) and decision latency (from the server publishing the tick's
 * queued events to `/delay` acknowledged), over all decisions and over the most recent ones.
 */
export interface DecisionFigures {
  decisions: number;
  hits: number;
  hitRate: number | null;
  /** Over the most recent decisions (at most the capacity). */
  recent: { decisions: number; hitRate: number | null; latencyP50Ms: number | null; latencyP99Ms: number | null };
  /** Of that latency, the part before the decision: tick published → tick-end read by the scheduler. */
  readLagP50Ms: number | null;
  readLagP99Ms: number | null;
}

export class LiveFigures {
  private decisions = 0;
  private hits = 0;
  private readonly hit: Uint8Array;
  private readonly latency: Float64Array;

  private ticks = 0;
  private readonly readLag: Float64Array;

  constructor(private readonly capacity = 10_000) {
    this.hit = new Uint8Array(capacity);
    this.latency = new Float64Array(capacity);
    this.readLag = new Float64Array(capacity);
  }

  recordTick(readLagMs: number): void {
    this.readLag[this.ticks++ % this.capacity] = readLagMs;
  }

  record(hit: boolean, latencyMs: number): void {
    const i = this.decisions++ % this.capacity;
    this.hit[i] = hit ? 1 : 0;
    this.latency[i] = latencyMs;
    if (hit) this.hits++;
  }

  figures(): DecisionFigures {
    const n = Math.min(this.decisions, this.capacity);
    let recentHits = 0;
    for (let i = 0; i < n; i++) recentHits += this.hit[i]!;
    const q = quantiles(this.latency.subarray(0, n));
    const lag = quantiles(this.readLag.subarray(0, Math.min(this.ticks, this.capacity)));
    return {
      decisions: this.decisions,
      hits: this.hits,
      hitRate: this.decisions ? this.hits / this.decisions : null,
      recent: { decisions: n, hitRate: n ? recentHits / n : null, latencyP50Ms: q(0.5), latencyP99Ms: q(0.99) },
      readLagP50Ms: lag(0.5),
      readLagP99Ms: lag(0.99),
    };
  }
}

function quantiles(values: Float64Array): (p: number) => number | null {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return (p) => (n ? Math.round(sorted[Math.min(n - 1, Math.ceil(p * n) - 1)]! * 10) / 10 : null);
}
