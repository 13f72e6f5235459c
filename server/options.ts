/**
 * Every parameter of the simulated database (docs/simulation.md "Parameters") and of its HTTP server,
 * declared once: flag, environment variable, default, rule. `compileSimulationOptions` turns the
 * loose values into the engine's options type, which has no optional fields.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../common/errors.js';
import { decimal, instant, integer, text, toggle, oneOf, type SettingValues } from '../common/settings.js';
import type { TrafficCurve } from './traffic.js';

export const simulationSettings = {
  seed: text({
    flag: '--seed',
    env: 'SIM_SEED',
    default: undefined,
    doc: 'Random seed (any text); the same seed and parameters give the same catalog and events. Random when unset, and logged.',
    maxLength: 200,
  }),
  queryCount: integer({
    flag: '--query-count',
    env: 'SIM_QUERY_COUNT',
    default: 100,
    min: 1,
    max: 1_000_000,
    doc: 'Number of distinct queries N in the catalog.',
  }),
  probabilityScale: decimal({
    flag: '--probability-scale',
    env: 'SIM_PROBABILITY_SCALE',
    default: 1,
    min: 0,
    max: 1_000_000,
    doc: 'Multiplies every per-tick probability p_i (a probability above 1 acts as 1).',
  }),
  tickMs: integer({
    flag: '--tick-ms',
    env: 'SIM_TICK_MS',
    default: 100,
    min: 1,
    max: 3_600_000,
    doc: 'Tick length in milliseconds.',
  }),
  defaultDelay: integer({
    flag: '--default-delay',
    env: 'SIM_DEFAULT_DELAY',
    default: 1,
    min: 1,
    max: 1_000_000,
    doc: 'Ticks an execution waits in the queue when nobody delays it.',
  }),
  metricsWindowTicks: integer({
    flag: '--metrics-window-ticks',
    env: 'SIM_METRICS_WINDOW_TICKS',
    default: 10,
    min: 1,
    max: 1_000_000,
    doc: 'Ticks per metrics window (10 ticks of 100 ms = 1 s).',
  }),
  trafficBase: decimal({
    flag: '--traffic-base',
    env: 'SIM_TRAFFIC_BASE',
    default: 1.5,
    min: 0,
    max: 1_000_000,
    doc: 'Traffic curve base: s(t) = base + amplitude·sin((t − phase)·2π/period).',
  }),
  trafficAmplitude: decimal({
    flag: '--traffic-amplitude',
    env: 'SIM_TRAFFIC_AMPLITUDE',
    default: 0.5,
    min: 0,
    max: 1_000_000,
    doc: 'Traffic curve amplitude (at most the base, so s(t) ≥ 0).',
  }),
  trafficPeriod: decimal({
    flag: '--traffic-period',
    env: 'SIM_TRAFFIC_PERIOD',
    default: 20_000,
    above: 0,
    max: 1e12,
    doc: 'Traffic curve period in ticks.',
  }),
  trafficPhase: decimal({
    flag: '--traffic-phase',
    env: 'SIM_TRAFFIC_PHASE',
    default: 500,
    min: -1e12,
    max: 1e12,
    doc: 'Traffic curve phase in ticks.',
  }),
  maxDelay: integer({
    flag: '--max-delay',
    env: 'SIM_MAX_DELAY',
    default: 600,
    min: 1,
    max: 1_000_000,
    doc: 'Largest absolute delay, in ticks, that one POST /delay may ask for.',
  }),
  exposeTruth: toggle({
    flag: '--truth',
    env: 'SIM_EXPOSE_TRUTH',
    default: false,
    doc: 'Evaluation only: expose the true query costs (GET /truth; the catalog line in sim output).',
  }),
};

export const serverSettings = {
  port: integer({ flag: '--port', env: 'PORT', default: 8080, min: 0, max: 65535, doc: 'HTTP port of the API.' }),
  host: text({
    flag: '--host',
    env: 'HOST',
    default: '127.0.0.1',
    doc: 'Address the API listens on (0.0.0.0 to accept other machines).',
    maxLength: 255,
  }),
  logLevel: oneOf({
    flag: '--log-level',
    env: 'LOG_LEVEL',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
    doc: 'Log level.',
  }),
  ledgerDir: text({
    flag: '--ledger-dir',
    env: 'LEDGER_DIR',
    default: '',
    maxLength: 4096,
    doc: 'Where the execution ledger is kept (executed counts per tick, one checksummed file per run; npm run verify reads it once the system has stopped). Empty: <outbox-dir>/ledger; none with --without-capture unless set.',
  }),
  withoutIdleGc: toggle({
    flag: '--without-idle-gc',
    env: 'WITHOUT_IDLE_GC',
    default: false,
    doc: 'Leave garbage collection to V8 instead of running a young-generation collection in the quiet part of each tick (which keeps collections out of the scheduler’s decision burst).',
  }),
};

export const simCliSettings = {
  ticks: integer({ flag: '--ticks', default: 36_000, min: 0, max: 1e9, doc: 'Ticks to simulate (36 000 = one hour).' }),
  out: text({
    flag: '--out',
    default: '-',
    doc: 'Output file for the JSON Lines events; - is stdout.',
    maxLength: 4096,
  }),
  startTime: instant({
    flag: '--start-time',
    default: Date.UTC(2026, 0, 1),
    doc: 'Virtual time of tick 0 (ISO-8601 or epoch ms); fixed so runs are reproducible.',
  }),
  quiet: toggle({ flag: '--quiet', default: false, doc: 'No progress on stderr.' }),
};

/** The engine's options: every field present, durations in ms, ticks as integers. */
export interface SimulationOptions {
  seed: string;
  queryCount: number;
  probabilityScale: number;
  tickMs: number;
  defaultDelay: number;
  metricsWindowTicks: number;
  traffic: TrafficCurve;
  maxDelay: number;
  exposeTruth: boolean;
  /**
   * The first tick's number. 0 for headless runs; the real-time server uses wall-clock ticks
   * (`floor(now / tickMs)`) so tick and window ids stay unique and aligned across restarts.
   */
  startTick: number;
  /** Epoch ms of `startTick`. */
  startTime: number;
}

export const DEFAULT_SIMULATION: Omit<SimulationOptions, 'seed' | 'startTime' | 'startTick'> = {
  queryCount: simulationSettings.queryCount.default,
  probabilityScale: simulationSettings.probabilityScale.default,
  tickMs: simulationSettings.tickMs.default,
  defaultDelay: simulationSettings.defaultDelay.default,
  metricsWindowTicks: simulationSettings.metricsWindowTicks.default,
  traffic: {
    base: simulationSettings.trafficBase.default,
    amplitude: simulationSettings.trafficAmplitude.default,
    period: simulationSettings.trafficPeriod.default,
    phase: simulationSettings.trafficPhase.default,
  },
  maxDelay: simulationSettings.maxDelay.default,
  exposeTruth: false,
};

/** A fresh random seed, for runs that did not ask for one (it is logged so the run can be replayed). */
export function randomSeed(): string {
  return randomBytes(6).toString('hex');
}

/** Builds and cross-checks the engine options from validated setting values. */
export function compileSimulationOptions(
  v: SettingValues<typeof simulationSettings>,
  start: { startTick: number; startTime: number },
): SimulationOptions {
  if (v.trafficAmplitude > v.trafficBase) {
    throw new ConfigError(
      'trafficAmplitude',
      v.trafficAmplitude,
      `must be ≤ trafficBase (${v.trafficBase}) so that the traffic curve never goes negative`,
    );
  }
  return {
    seed: v.seed ?? randomSeed(),
    queryCount: v.queryCount,
    probabilityScale: v.probabilityScale,
    tickMs: v.tickMs,
    defaultDelay: v.defaultDelay,
    metricsWindowTicks: v.metricsWindowTicks,
    traffic: { base: v.trafficBase, amplitude: v.trafficAmplitude, period: v.trafficPeriod, phase: v.trafficPhase },
    maxDelay: v.maxDelay,
    exposeTruth: v.exposeTruth,
    ...start,
  };
}

/** Options for tests and tools: defaults overridden by `overrides`. */
export function simulationOptions(overrides: Partial<SimulationOptions> & { seed: string }): SimulationOptions {
  return { ...DEFAULT_SIMULATION, startTick: 0, startTime: Date.UTC(2026, 0, 1), ...overrides };
}
