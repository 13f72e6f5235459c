/**
 * The level each metrics window aims at, and each tick's target within it.
 *
 * The band is judged per window against that window's own average, so a window needs one level
 * held flat across its ticks, and the level may change freely from one window to the next. Each
 * window's level is set when it starts:
 *   level = arrival rate + levelGain · (held load − wait · arrival rate) / W
 * i.e. what arrives, plus a share of the excess held back, which keeps the pool (and so latency)
 * near `wait` ticks of arrivals.
 */
import { BAND } from './band.js';
import type { Vec3 } from './arrival-rate.js';

export interface WindowLevelInput {
  /** Expected arrived load per tick and arrivals per tick (undefined before any history). */
  arrivals: { load: Vec3; count: number } | undefined;
  /** Expected load of everything held (queued and not yet run). */
  held: Readonly<Vec3>;
  wait: number;
  levelGain: number;
  windowTicks: number;
  /** Executions held, and the most executions per tick a window runs at a fixed count (0: never). */
  heldCount: number;
  fixedCountMax: number;
}

export interface WindowPlan {
  id: number;
  /** The window's last tick. */
  end: number;
  level: Vec3;
  /**
   * Executions every tick of the window runs, when the window keeps one count (see `fixedCount`);
   * undefined: as many as fit the level.
   */
  count: number | undefined;
  /** Expected arrived load per tick when the window started. */
  rate: Vec3;
  /** Chance that a tick brings no arrival (Poisson, e^−λ): what leaving the pool empty risks. */
  emptyChance: number;
  /** One typical execution's squared share of the level: the objective's natural unit. */
  unit: number;
  /** Range of the expected loads placed so far in this window, per resource. */
  low: Vec3;
  high: Vec3;
  /** Sum of the loads placed so far in this window, and their number. */
  sum: Vec3;
  placed: number;
}

export function planWindow(id: number, x: WindowLevelInput): WindowPlan {
  // Without any arrival history (just restarted), read the rate off the held load.
  const rate = x.arrivals?.load ?? (x.held.map((h) => h / (x.wait + 1)) as Vec3);
  const count = x.arrivals?.count ?? 0;
  const W = x.windowTicks;
  const fixed = fixedCount(x);
  const level = [0, 1, 2].map((r) => {
    if (fixed === undefined || count <= 0)
      return Math.max(0, rate[r]! + (x.levelGain * (x.held[r]! - x.wait * rate[r]!)) / W);
    // A fixed count's level: that many executions of the arrivals' mean cost, moved by the same
    // share of the held pool's bias (its load beyond as many executions of that mean cost) as the
    // count takes of its excess executions. Executions that fit no tick are left in the pool, so
    // it drifts toward the costs that fit badly; a window whose first tick leans the same way
    // uses them up while they still have partners, instead of leaving them to their deadlines.
    // Measured: scale 5 93.3 → 93.7 % in band, scale 3 89.5 → 90.6 % (SOLUTION.md, "Scheduling").
    const perExecution = rate[r]! / count;
    return Math.max(0, fixed * perExecution + (x.levelGain * (x.held[r]! - x.heldCount * perExecution)) / W);
  }) as Vec3;
  const unit = count > 0 ? [0, 1, 2].reduce((a, r) => a + (rate[r]! / count / Math.max(level[r]!, 1)) ** 2, 0) / 3 : 0;
  const inf = Number.POSITIVE_INFINITY;
  return {
    id,
    end: (id + 1) * W - 1,
    level,
    count: fixed,
    rate: [...rate],
    emptyChance: Math.exp(-count),
    unit,
    low: [inf, inf, inf],
    high: [-inf, -inf, -inf],
    sum: [0, 0, 0],
    placed: 0,
  };
}

/**
 * The executions per tick of a window at a fixed count: what arrives plus a share of the excess
 * held, in executions, as the level is in load (rounded). Why one count for the whole window: a
 * tick's load moves in steps of a whole execution, and ticks of one count are far more alike than
 * ticks whose count follows the fit (a tick one execution short is ~1/k off the level, outside the
 * band below ten per tick). Undefined above `fixedCountMax` (ticks of many executions level well
 * by fit alone) or without an arrival history.
 */
export function fixedCount(x: WindowLevelInput): number | undefined {
  const rate = x.arrivals?.count;
  if (rate === undefined || x.fixedCountMax <= 0) return undefined;
  const k = Math.max(0, Math.round(rate + (x.levelGain * (x.heldCount - x.wait * rate)) / x.windowTicks));
  return k <= x.fixedCountMax ? k : undefined;
}

/**
 * The target of the next tick: the window's level, clamped per resource to the levels that keep
 * the window in band given the ticks already placed in it (all ticks within a factor 1.1/0.9 of
 * each other). Once the placed ticks are too far apart for the band, it is clamped to their range
 * instead, so the remaining ticks at least do not widen the window's spread. At low load this is
 * what keeps a window to one execution count per tick (ones, or twos) instead of mixing them, and
 * a pair dropped into a window of singles is what makes the worst spikes.
 *
 * It is never below `need` (see `mustRun`): load that has to run soon anyway, spread evenly now,
 * does not pile up at its deadline, where it would be forced in on top of a tick already at the
 * level — at low load, and with budgets shorter than a window, the commonest spike.
 */
export function tickTarget(w: WindowPlan, need: Readonly<Vec3>, pool?: PoolLoad): Vec3 {
  const spread = (1 + BAND) / (1 - BAND);
  // A fixed count: every tick after the first aims at the mean of those placed (the band is
  // relative to the window's own average, so the ticks need to match each other, not the level),
  // leaning a little the way the candidates lean.
  if (w.count !== undefined && w.placed > 0) {
    const mean = w.sum.map((s) => s / w.placed) as Vec3;
    return pool && w.count >= POOL_LEAN_MIN_COUNT ? leanTowardPool(mean, w.count, w.end - pool.tick + 1, pool) : mean;
  }
  return [0, 1, 2].map((r) => {
    const level = w.level[r]!;
    const lo = w.low[r]!;
    const hi = w.high[r]!;
    let target = level;
    if (hi >= lo) {
      const from = hi / spread;
      const to = lo * spread;
      target = from <= to ? clamp(level, from, to) : clamp(level, lo, hi);
    }
    return Math.max(target, need[r]!);
  }) as Vec3;
}

/** What the candidates of a tick add up to: their expected load and number, and the tick. */
export interface PoolLoad {
  load: Readonly<Vec3>;
  count: number;
  tick: number;
}

/**
 * Share of the candidates' bias a fixed-count tick takes on, spread over the window's remaining
 * ticks, and the most it may move the tick's aim (a fraction of it). Measured at scale 5 (12/3,
 * seeds 1–3, learned costs): gain 1 / 2 / 3 with 3 % 94.7 / 94.9 / 94.9 % against 93.7 % without;
 * 5 % lost scale 3 (84–87 % against 90.6 %), 2 % kept it (91.0–91.2 %).
 */
const POOL_LEAN_GAIN = 2;
const POOL_LEAN_MAX = 0.02;
/**
 * Below this count a tick is one or two executions, which a shift of 2 % cannot steer, only
 * reshuffle among near ties (defaults 200/20: 46.2 % in band with it from one per tick, 48.6 % from three).
 */
const POOL_LEAN_MIN_COUNT = 3;

/**
 * A fixed-count tick's aim, moved toward absorbing the candidates' bias: their load beyond as many
 * executions of the template's mean cost (`aim` / k each), shared over the ticks left in the
 * window, by at most POOL_LEAN_MAX of the aim. Why: a window's ticks draw on one pool, and what
 * fits no tick stays in it, so by the window's last ticks the executions left lean away from the
 * template and nothing matches (at scale 5 most windows out of band failed at one of their last
 * three ticks). Taking a little of that lean at every tick, well inside the band, keeps the pool
 * centred on the template until the end.
 */
export function leanTowardPool(aim: Readonly<Vec3>, k: number, ticksLeft: number, pool: PoolLoad): Vec3 {
  return aim.map((a, r) => {
    const bias = pool.load[r]! - (pool.count * a) / k;
    const limit = POOL_LEAN_MAX * a;
    return a + Math.min(limit, Math.max(-limit, (POOL_LEAN_GAIN * bias) / Math.max(1, ticksLeft)));
  }) as Vec3;
}

/**
 * The least load per tick that keeps every held execution within its deadline without a pile-up:
 * for each horizon m = 0 … budget, what must run by tick nextTick + m, spread over those m + 1
 * ticks; the largest of these is the rate the next tick must keep up (executions arriving later
 * have later deadlines, so only the held ones count). `dueAt[m]` is the expected load whose
 * deadline is nextTick + m (deadlines already passed count at m = 0).
 */
export function mustRun(dueAt: readonly Vec3[]): Vec3 {
  const need: Vec3 = [0, 0, 0];
  const cumulative: Vec3 = [0, 0, 0];
  for (let m = 0; m < dueAt.length; m++) {
    for (let r = 0; r < 3; r++) {
      cumulative[r]! += dueAt[m]![r]!;
      need[r] = Math.max(need[r]!, cumulative[r]! / (m + 1));
    }
  }
  return need;
}

/** Records a placed tick's expected load. An empty tick is not a level the others should keep. */
export function recordPlaced(w: WindowPlan, load: Readonly<Vec3>): void {
  if (load[0] + load[1] + load[2] <= 0) return;
  w.placed++;
  for (let r = 0; r < 3; r++) {
    w.sum[r]! += load[r]!;
    w.low[r] = Math.min(w.low[r]!, load[r]!);
    w.high[r] = Math.max(w.high[r]!, load[r]!);
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
