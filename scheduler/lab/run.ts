/**
 * Runs one policy against its own simulated database in virtual time and records what the lab
 * scores: every window, every execution's added latency, every rejected decision, and the wall
 * time spent inside the policy. Same simulation options ⇒ same arrivals (delays never touch the
 * database's random stream), so policies are compared on identical traffic.
 */
import type { ExecutedEvent, QueuedEvent, WindowEvent } from '../../common/contracts.js';
import { ExecutionNotQueuedError } from '../../common/errors.js';
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';
import type { Decision, SchedulingPolicy } from '../decision.js';
import { scoreWindow, type WindowScore } from './metrics.js';

/** Something that learns from the run's events (the estimated cost model, for instance). */
export interface EventObserver {
  observe(event: ExecutedEvent | WindowEvent): void;
  /**
   * Work the events so far started asynchronously (the product estimator's solve), or undefined.
   * `runPolicyAsync` awaits it after each tick, before the policy's `beforeTick`: virtual time
   * stands still meanwhile. `runPolicy` refuses an observer that returns one.
   */
  flush?(): Promise<void> | undefined;
}

export interface RunInput {
  simulation: SimulationOptions;
  ticks: number;
  /** Builds the policy for this database (it may read ground truth through `db` for oracles). */
  policy: (db: Database) => { policy: SchedulingPolicy; observers: EventObserver[] };
}

export interface RunRecord {
  name: string;
  windows: WindowScore[];
  addedLatency: Int32Array;
  executions: number;
  queuedEvents: number;
  decisions: number;
  rejectedDecisions: number;
  /** Executions still queued when the run ended (not scored). */
  unfinished: number;
  /** Wall time inside the policy's methods, ms. */
  policyMs: number;
  /** Slowest single tick of policy work (all of one tick's calls), ms. */
  worstTickMs: number;
  /** Tick-level policy time samples for percentiles, ms: wall clock, and CPU time of this process
   * (on a shared machine the wall clock also counts time the process was not running at all). */
  tickMs: Float64Array;
  tickCpuMs: Float64Array;
}

/** Runs a policy whose observers never work asynchronously (see `EventObserver.flush`). */
export function runPolicy(input: RunInput): RunRecord {
  const steps = runSteps(input);
  const step = steps.next();
  if (!step.done) throw new Error('an observer works asynchronously: use runPolicyAsync');
  return step.value;
}

/** Runs a policy, awaiting its observers' asynchronous work after each tick. */
export async function runPolicyAsync(input: RunInput): Promise<RunRecord> {
  const steps = runSteps(input);
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    await step.value;
  }
}

/** The run, as a generator that yields each piece of asynchronous observer work to wait for. */
function* runSteps(input: RunInput): Generator<Promise<void>, RunRecord, void> {
  const db = new Database(input.simulation);
  const { policy, observers } = input.policy(db);
  const windows: WindowScore[] = [];
  const latency: number[] = [];
  let queuedEvents = 0;
  let decisions = 0;
  let rejected = 0;
  let policyMs = 0;
  let tickPolicyMs = 0;
  const tickMs = new Float64Array(input.ticks);
  const tickCpuMs = new Float64Array(input.ticks);
  let pending: Decision[] = [];

  db.hooks.executed.add((e) => {
    latency.push(e.addedDelay);
    for (const o of observers) o.observe(e);
    const t0 = performance.now();
    policy.onExecuted(e);
    tickPolicyMs += performance.now() - t0;
  });
  db.hooks.window.add((w) => {
    windows.push(scoreWindow(w));
    for (const o of observers) o.observe(w);
    const t0 = performance.now();
    policy.onWindow(w);
    tickPolicyMs += performance.now() - t0;
  });
  db.hooks.queued.add((q: QueuedEvent) => {
    queuedEvents++;
    const t0 = performance.now();
    const d = policy.onQueued(q);
    tickPolicyMs += performance.now() - t0;
    // Applied after the tick's hooks, as a live service would (it cannot act inside the tick).
    if (d.length) pending = pending.concat(d);
  });

  const apply = (ds: Decision[]) => {
    for (const d of ds) {
      decisions++;
      try {
        db.delay(d.executionId, d.delay, policy.name);
      } catch (error) {
        if (!(error instanceof ExecutionNotQueuedError)) throw error;
        rejected++;
      }
    }
  };

  let worstTickMs = 0;
  for (let i = 0; i < input.ticks; i++) {
    tickPolicyMs = 0;
    db.tick();
    apply(pending);
    pending = [];
    for (const o of observers) {
      const work = o.flush?.();
      if (work) yield work;
    }
    // beforeTick is where nearly all the work is; its CPU time is measured apart from wall time.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const d = policy.beforeTick(db.currentTick);
    tickPolicyMs += performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    apply(d);
    tickMs[i] = tickPolicyMs;
    tickCpuMs[i] = (cpu.user + cpu.system) / 1000;
    policyMs += tickPolicyMs;
    if (tickPolicyMs > worstTickMs) worstTickMs = tickPolicyMs;
  }
  return {
    name: policy.name,
    windows,
    addedLatency: Int32Array.from(latency),
    executions: latency.length,
    queuedEvents,
    decisions,
    rejectedDecisions: rejected,
    unfinished: db.stats().queueLength,
    policyMs,
    worstTickMs,
    tickMs,
    tickCpuMs,
  };
}
