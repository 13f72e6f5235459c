/**
 * `npx tsx scheduler/bench-policy.ts [--seconds 600] [--probability-scale 10] [--runs 3]
 *   [--repeats 1] [--latency-budget 10] [--target-latency 2.5]`: how long
 * the policy takes to decide, in virtual time on the simulated database (the database's own time is
 * not counted). Prints JSON: per run, microseconds inside the policy per queued event, the wall-time
 * distribution of one tick's policy work (all its calls for that tick), and the CPU time of
 * `beforeTick` (where the work is) — on a shared machine the wall clock also counts time the process
 * was descheduled, so its tail says more about the machine than the policy; and the median run.
 * With `--repeats R`, each run is replayed R times on the same seed: the policy is deterministic, so
 * every replay does the same work at each tick, and a tick's time is its least over the replays —
 * what the work takes without the time a busy machine took the process away (a stable p99).
 * The backlog the policy holds grows with load × target latency (`--probability-scale 10
 * --latency-budget 600 --target-latency 70` holds about 1 000 executions); its largest is printed.
 */
import { readCommandLine } from '../common/cli.js';
import { decimal, integer } from '../common/settings.js';
import { simulationOptions } from '../server/options.js';
import { oracleCostModel } from './cost-model.js';
import { percentile } from './lab/metrics.js';
import { runPolicy } from './lab/run.js';
import { policyOptions, policySettings } from './options.js';
import { Policy } from './policy.js';

const benchPolicySettings = {
  seconds: integer({ flag: '--seconds', default: 600, min: 1, max: 86_400, doc: 'Simulated seconds per run.' }),
  scale: decimal({ flag: '--probability-scale', default: 10, above: 0, max: 1000, doc: 'Load.' }),
  runs: integer({ flag: '--runs', default: 3, min: 1, max: 1000, doc: 'Runs (the median is reported).' }),
  repeats: integer({
    flag: '--repeats',
    default: 1,
    min: 1,
    max: 100,
    doc: "Replays of each run (same seed, same work); a tick's time is its least over them.",
  }),
  latencyBudget: policySettings.latencyBudget,
  targetLatency: policySettings.targetLatency,
};
const [{ seconds, scale, runs, repeats, latencyBudget, targetLatency }] = readCommandLine(
  { name: 'bench:policy', description: 'How long the scheduling policy takes to decide.' },
  benchPolicySettings,
);

const results = Array.from({ length: runs }, (_, i) => {
  const simulation = simulationOptions({ seed: `bench-${i}`, probabilityScale: scale, exposeTruth: true });
  let backlogMax = 0;
  const replay = () =>
    runPolicy({
      simulation,
      ticks: seconds * 10,
      policy: (db) => {
        const policy = new Policy(
          policyOptions(simulation, { latencyBudget, targetLatency }),
          oracleCostModel(db.groundTruth()),
        );
        const observe = () => void (backlogMax = Math.max(backlogMax, policy.size));
        return { policy, observers: [{ observe }] };
      },
    });
  const r = replay();
  for (let k = 1; k < repeats; k++) {
    const again = replay();
    for (let t = 0; t < r.tickMs.length; t++) {
      r.tickMs[t] = Math.min(r.tickMs[t]!, again.tickMs[t]!);
      r.tickCpuMs[t] = Math.min(r.tickCpuMs[t]!, again.tickCpuMs[t]!);
    }
    r.policyMs = Math.min(r.policyMs, again.policyMs);
  }
  const tick = Array.from(r.tickMs, (ms) => ms * 1000);
  const cpu = Array.from(r.tickCpuMs, (ms) => ms * 1000);
  return {
    backlogMax,
    queuedEvents: r.queuedEvents,
    microsPerEvent: (1000 * r.policyMs) / r.queuedEvents,
    tickMicrosP50: percentile(tick, 0.5),
    tickMicrosP99: percentile(tick, 0.99),
    tickMicrosMax: Math.max(...tick),
    beforeTickCpuMicrosP50: percentile(cpu, 0.5),
    beforeTickCpuMicrosP99: percentile(cpu, 0.99),
    beforeTickCpuMicrosMax: Math.max(...cpu),
  };
});
const median = [...results].sort((a, b) => a.microsPerEvent - b.microsPerEvent)[Math.floor(runs / 2)]!;
const round = (o: object) =>
  JSON.parse(JSON.stringify(o, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))) as object;
process.stdout.write(
  JSON.stringify({
    probabilityScale: scale,
    latencyBudget,
    targetLatency,
    seconds,
    repeats,
    runs: results.map(round),
    median: round(median),
  }) + '\n',
);
