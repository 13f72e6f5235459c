/**
 * The database's own view of how well it is being scheduled, for `GET /stats`: over the most
 * recent metrics windows, the in-band rate and the spread ratios (docs/architecture.md "Definitions"),
 * and over the most recent executions, the added latency and who moved them. It reads only the
 * database's events, so the figures hold whether or not a scheduler runs, and whichever process
 * runs it.
 */
import { RESOURCES, type ExecutedEvent, type WindowEvent } from '../common/contracts.js';
import { windowInBand } from '../common/definitions.js';
import type { Hook } from './hook.js';

export interface SchedulingFigures {
  /** Windows and executions the figures cover (at most the monitor's capacity). */
  windows: number;
  inBandRate: number | null;
  /** Mean over the windows with load of the largest max/avg and the smallest min/avg across resources. */
  maxAvgMean: number | null;
  minAvgMean: number | null;
  executions: number;
  addedLatencyMean: number | null;
  addedLatencyP99: number | null;
  /** Share of the executions whose last accepted `/delay` came from the scheduler. */
  movedByScheduler: number | null;
}

export class SchedulingMonitor {
  private readonly band: Uint8Array;
  private readonly maxAvg: Float64Array;
  private readonly minAvg: Float64Array;
  private windows = 0;
  private loaded = 0;
  private readonly latency: Int32Array;
  private readonly byScheduler: Uint8Array;
  private executions = 0;

  constructor(
    hooks: { executed: Hook<ExecutedEvent>; window: Hook<WindowEvent> },
    capacity: { windows: number; executions: number } = { windows: 60, executions: 10_000 },
  ) {
    this.band = new Uint8Array(capacity.windows);
    this.maxAvg = new Float64Array(capacity.windows);
    this.minAvg = new Float64Array(capacity.windows);
    this.latency = new Int32Array(capacity.executions);
    this.byScheduler = new Uint8Array(capacity.executions);
    hooks.window.add((w) => this.onWindow(w));
    hooks.executed.add((e) => {
      const i = this.executions++ % this.latency.length;
      this.latency[i] = e.addedDelay;
      this.byScheduler[i] = e.delayedBy === 'scheduler' ? 1 : 0;
    });
  }

  figures(): SchedulingFigures {
    const nw = Math.min(this.windows, this.band.length);
    const nl = Math.min(this.loaded, this.maxAvg.length);
    const ne = Math.min(this.executions, this.latency.length);
    const sum = (a: ArrayLike<number>, n: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[i]!;
      return s;
    };
    const sorted = Int32Array.from(this.latency.subarray(0, ne)).sort();
    return {
      windows: nw,
      inBandRate: nw ? sum(this.band, nw) / nw : null,
      maxAvgMean: nl ? sum(this.maxAvg, nl) / nl : null,
      minAvgMean: nl ? sum(this.minAvg, nl) / nl : null,
      executions: ne,
      addedLatencyMean: ne ? sum(this.latency, ne) / ne : null,
      addedLatencyP99: ne ? sorted[Math.min(ne - 1, Math.ceil(0.99 * ne) - 1)]! : null,
      movedByScheduler: ne ? sum(this.byScheduler, ne) / ne : null,
    };
  }

  private onWindow(w: WindowEvent): void {
    this.band[this.windows++ % this.band.length] = windowInBand(w) ? 1 : 0;
    // A ratio needs load: a window with a zero average is left out of the ratios.
    if (RESOURCES.some((r) => w[r].average === 0)) return;
    const i = this.loaded++ % this.maxAvg.length;
    this.maxAvg[i] = Math.max(...RESOURCES.map((r) => w[r].max / w[r].average));
    this.minAvg[i] = Math.min(...RESOURCES.map((r) => w[r].min / w[r].average));
  }
}
