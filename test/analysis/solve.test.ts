/**
 * The solve on its own, from hand-made sufficient statistics: recovery of known costs, the
 * non-negativity constraint, shrinkage of rarely seen queries toward the prior, and the linear
 * algebra underneath.
 */
import { describe, expect, it } from 'vitest';
import { contiguousRuns } from '../../analysis/estimator/blocks.js';
import { cholesky, choleskySolve, inverseDiagonal, type DenseMatrix } from '../../analysis/estimator/linear-algebra.js';
import { factorGram, lowRankRidge } from '../../analysis/estimator/low-rank.js';
import { solveNonNegative } from '../../analysis/estimator/nonnegative.js';
import { denseRidge } from '../../analysis/estimator/ridge.js';
import { DEFAULT_SOLVE_OPTIONS, solveCosts, type CostSolution } from '../../analysis/estimator/solve.js';
import { noPause, timeSlicer } from '../../analysis/estimator/pause.js';
import { KIND_PAIR, KIND_QUERY, KIND_TOTAL, statsFromRows, type StatsRow } from '../../analysis/estimator/stats.js';
import { SolveError } from '../../analysis/errors.js';

/** Sufficient statistics of windows given as (counts per query, exact totals per resource). */
function statsOf(queries: string[], windows: { x: number[]; y: [number, number, number] }[], noise12 = 99): StatsRow[] {
  const n = queries.length;
  const zero = {
    xx: 0,
    x: 0,
    windows: 0,
    xy_cpu: 0,
    xy_io: 0,
    xy_memory: 0,
    yy_cpu: 0,
    yy_io: 0,
    yy_memory: 0,
    noise_cpu: 0,
    noise_io: 0,
    noise_memory: 0,
    inconsistent: 0,
  };
  const rows = new Map<string, StatsRow>();
  const row = (kind: number, qa: string, qb: string) => {
    const key = `${kind}/${qa}/${qb}`;
    if (!rows.has(key)) rows.set(key, { kind, qa, qb, ...zero });
    return rows.get(key)! as StatsRow & typeof zero;
  };
  const total = row(KIND_TOTAL, 'nil', 'nil');
  for (const w of windows) {
    total.x += w.x.reduce((a, b) => a + b, 0);
    total.windows += 1;
    total.xy_cpu += w.y[0];
    total.xy_io += w.y[1];
    total.xy_memory += w.y[2];
    total.yy_cpu += w.y[0] ** 2;
    total.yy_io += w.y[1] ** 2;
    total.yy_memory += w.y[2] ** 2;
    total.noise_cpu += noise12;
    total.noise_io += noise12;
    total.noise_memory += noise12;
    for (let a = 0; a < n; a++) {
      if (w.x[a] === 0) continue;
      const q = row(KIND_QUERY, queries[a]!, queries[a]!);
      q.xx += w.x[a]! ** 2;
      q.x += w.x[a]!;
      q.windows += 1;
      q.xy_cpu += w.x[a]! * w.y[0];
      q.xy_io += w.x[a]! * w.y[1];
      q.xy_memory += w.x[a]! * w.y[2];
      for (let b = a + 1; b < n; b++) if (w.x[b]! > 0) row(KIND_PAIR, queries[a]!, queries[b]!).xx += w.x[a]! * w.x[b]!;
    }
  }
  return [...rows.values()];
}

/** Windows with random counts and exact totals, plus truncation-like noise in [−4.5, 4.5]. */
function randomWindows(costs: [number, number, number][], count: number, rate: number, seed = 7) {
  let s = seed;
  // xorshift32: reproducible.
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const x = costs.map(() => (rand() < rate ? 1 + Math.floor(rand() * 2) : 0));
    const noise = () => Math.floor(rand() * 10) - 4.5;
    const y = [0, 1, 2].map((r) => x.reduce((acc, c, q) => acc + c * costs[q]![r]!, 0) + noise()) as [
      number,
      number,
      number,
    ];
    return { x, y };
  });
}

describe('solveCosts', () => {
  const ids = Array.from({ length: 30 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
  const costs = ids.map(
    (_, i) => [30 + ((i * 7) % 40), 25 + ((i * 11) % 45), 35 + ((i * 13) % 30)] as [number, number, number],
  );

  it('recovers known costs from many windows within tight bounds, with calibrated intervals', async () => {
    const stats = statsFromRows(statsOf(ids, randomWindows(costs, 2000, 0.3)));
    const solution = await solveCosts(stats);
    expect(solution.estimates).toHaveLength(30);
    let covered = 0;
    for (const e of solution.estimates) {
      const truth = costs[ids.indexOf(e.queryId)]!;
      for (let r = 0; r < 3; r++) {
        expect(Math.abs(e.mean[r]! - truth[r]!)).toBeLessThan(0.6);
        if (truth[r]! >= e.lower[r]! && truth[r]! <= e.upper[r]!) covered++;
      }
    }
    expect(covered / 90).toBeGreaterThanOrEqual(0.85);
    // The noise is uniform on 10 values: sd √(99/12) ≈ 2.87, which the solve reports.
    for (const sd of solution.noise.sd) expect(sd).toBeCloseTo(2.87, 1);
    expect(solution.prior.fromData).toBe(true);
  });

  it('never returns a negative cost, even when the least-squares solution is negative', async () => {
    // Query B always runs with A, and their totals say B costs less than nothing.
    const windows = [
      ...Array.from({ length: 50 }, () => ({ x: [1, 0], y: [100, 100, 100] as [number, number, number] })),
      ...Array.from({ length: 50 }, () => ({ x: [1, 1], y: [90, 100, 100] as [number, number, number] })),
    ];
    const solution = await solveCosts(statsFromRows(statsOf(['a', 'b'], windows, 0)));
    const a = solution.estimates.find((e) => e.queryId === 'a')!;
    const b = solution.estimates.find((e) => e.queryId === 'b')!;
    // A alone explains the totals: about 95 (cpu), a little less for the ridge toward the prior.
    expect(a.mean[0]).toBeGreaterThan(90);
    expect(b.mean[0]).toBe(0);
    expect(b.lower[0]).toBe(0);
    expect(solution.clamped).toBeGreaterThan(0);
    for (const e of solution.estimates) for (const v of e.mean) expect(v).toBeGreaterThanOrEqual(0);
  });

  it('shrinks a query seen once toward the prior and reports it as uncertain', async () => {
    const rare = 'ffffffff-0000-0000-0000-000000000000';
    const windows = randomWindows(costs, 2000, 0.3).map((w) => ({ ...w, x: [...w.x, 0] }));
    // One window holding only the rare query, whose cost (200) is far from everyone else's (~50).
    windows.push({ x: [...costs.map(() => 0), 1], y: [200, 200, 200] });
    const stats = statsFromRows(statsOf([...ids, rare], windows));
    const solution = await solveCosts(stats);
    const e = solution.estimates.find((x) => x.queryId === rare)!;
    const others = solution.estimates.filter((x) => x.queryId !== rare);
    expect(e.observations).toBe(1);
    for (let r = 0; r < 3; r++) {
      expect(e.mean[r]).toBeLessThan(200);
      expect(e.mean[r]).toBeGreaterThan(solution.prior.mean[r]!);
      expect(e.sd[r]).toBeGreaterThan(2 * Math.max(...others.map((o) => o.sd[r]!)));
    }
  });

  it('gives the same means, sd’s and prior through the rank of XᵀX as densely (fewer windows than queries)', async () => {
    // 300 queries in 120 windows: XᵀX has rank ≤ 120, most queries are seen a few times.
    const many = Array.from({ length: 300 }, (_, i) => `q${String(i).padStart(4, '0')}`);
    const manyCosts = many.map(
      (_, i) => [20 + (i % 50), 30 + ((i * 7) % 40), 25 + ((i * 3) % 45)] as [number, number, number],
    );
    const stats = statsFromRows(statsOf(many, randomWindows(manyCosts, 120, 0.04, 11)));
    const dense = await solveCosts(stats, { denseLimit: 1000 });
    const lowRank = await solveCosts(stats, { denseLimit: 1 });
    expect(stats.gram.n).toBeGreaterThan(2 * stats.totals.windows);
    expectSameSolution(dense, lowRank);
  });

  it.each([
    ['dense', DEFAULT_SOLVE_OPTIONS.denseLimit, 600],
    ['low-rank', 1, 200],
  ] as const)(
    'yields to the event loop while it solves (%s; the embedded process keeps ticking)',
    async (solver, denseLimit, windows) => {
      const many = Array.from({ length: 400 }, (_, i) => `q${String(i).padStart(4, '0')}`);
      const manyCosts = many.map((_, i) => [20 + (i % 50), 30 + (i % 40), 25 + (i % 45)] as [number, number, number]);
      const stats = statsFromRows(statsOf(many, randomWindows(manyCosts, windows, 0.03)));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const started = performance.now();
      expect((await solveCosts(stats, { denseLimit }, timeSlicer(10))).solver).toBe(solver);
      const elapsed = performance.now() - started;
      clearInterval(timer);
      // A solve that held the loop would let the timer fire at most once.
      expect(ticks).toBeGreaterThan(Math.min(5, elapsed / 50));
    },
  );

  it('returns no estimate without data', async () => {
    const solution = await solveCosts(statsFromRows([]));
    expect(solution.estimates).toEqual([]);
  });
});

/** Two solutions of the same statistics, one dense and one through the rank of XᵀX, agree. */
function expectSameSolution(dense: CostSolution, lowRank: CostSolution) {
  expect(dense.solver).toBe('dense');
  expect(lowRank.solver).toBe('low-rank');
  expect(lowRank.estimates.map((e) => e.queryId)).toEqual(dense.estimates.map((e) => e.queryId));
  // Equal up to rounding (measured: within 1e-8, relative).
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-6 * Math.max(1, Math.abs(b)));
  for (let r = 0; r < 3; r++) {
    close(lowRank.prior.mean[r]!, dense.prior.mean[r]!);
    close(lowRank.prior.sd[r]!, dense.prior.sd[r]!);
    close(lowRank.noise.sd[r]!, dense.noise.sd[r]!);
  }
  dense.estimates.forEach((d, q) => {
    const l = lowRank.estimates[q]!;
    for (let r = 0; r < 3; r++) {
      close(l.mean[r]!, d.mean[r]!);
      expect(Math.abs(l.sd[r]! - d.sd[r]!)).toBeLessThan(1e-6 * d.sd[r]!);
    }
  });
}

describe('linear algebra', () => {
  const m: DenseMatrix = { n: 3, data: Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]) };

  it('solves with Cholesky and gives diag(A⁻¹)', async () => {
    const l = await cholesky(m);
    const x = choleskySolve(l, Float64Array.from([1, 2, 3]));
    const back = [0, 1, 2].map((i) => [0, 1, 2].reduce((s, j) => s + m.data[i * 3 + j]! * x[j]!, 0));
    back.forEach((v, i) => expect(v).toBeCloseTo(i + 1, 12));
    const diag = await inverseDiagonal(l);
    for (let j = 0; j < 3; j++) {
      const e = new Float64Array(3);
      e[j] = 1;
      expect(diag[j]).toBeCloseTo(choleskySolve(l, e)[j]!, 12);
    }
  });

  it.each([
    ['more windows than queries (full rank)', 30, 2000, 0.3],
    ['fewer windows than queries', 300, 120, 0.04],
  ] as const)(
    'factors XᵀX + λI through its rank as the dense Cholesky does: %s',
    async (_name, queries, windowCount, rate) => {
      const qs = Array.from({ length: queries }, (_, i) => `q${String(i).padStart(4, '0')}`);
      const qCosts = qs.map(
        (_, i) => [20 + (i % 50), 30 + ((i * 7) % 40), 25 + ((i * 3) % 45)] as [number, number, number],
      );
      const stats = statsFromRows(statsOf(qs, randomWindows(qCosts, windowCount, rate, 11)));
      const n = stats.gram.n;
      const vectors = [new Float64Array(n).fill(1), ...stats.xty];
      const gram = await factorGram(stats.gram, stats.totals.windows);
      expect(gram.rank).toBe(Math.min(n, stats.totals.windows));
      const dense = denseRidge(stats.gram, vectors, noPause);
      const lowRank = lowRankRidge(gram, vectors);
      const close = (a: number, b: number, tolerance: number) =>
        expect(Math.abs(a - b)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(b)));
      // From a ridge far below the data's scale (the likelihood's grid starts there) to one above it.
      for (const lambda of [1e-4, 0.05, 5]) {
        const d = await dense.factor(lambda);
        const l = await lowRank.factor(lambda);
        close(l.logDeterminant, d.logDeterminant, 1e-9);
        for (let i = 0; i < vectors.length; i++)
          for (let j = 0; j < vectors.length; j++) close(l.form(i, j), d.form(i, j), 1e-7);
        const [ld, dd] = [await l.inverseDiagonal(), await d.inverseDiagonal()];
        dd.forEach((v, q) => close(ld[q]!, v, 1e-6));
        const [ls, ds] = [l.solve(stats.xty[0]), d.solve(stats.xty[0])];
        ds.forEach((v, q) => close(ls[q]!, v, 1e-6));
      }
      // The active set's subproblems: every other query held at 0.
      const free = Uint8Array.from({ length: n }, (_, q) => (q % 2 === 0 ? 1 : 0));
      const [lf, df] = [
        await lowRank.solveFree(0.05, free, stats.xty[1]),
        await dense.solveFree(0.05, free, stats.xty[1]),
      ];
      df.forEach((v, q) => close(lf[q]!, v, 1e-6));
      lf.forEach((v, q) => free[q] === 0 && expect(v).toBe(0));
    },
  );

  it('refuses a matrix that is not positive definite', async () => {
    await expect(cholesky({ n: 2, data: Float64Array.from([1, 2, 2, 1]) })).rejects.toBeInstanceOf(SolveError);
  });

  it('solves a non-negative least-squares problem (KKT)', async () => {
    // min ½xᵀHx − gᵀx, x ≥ 0, with an unconstrained optimum that is negative in x₁.
    const h = { n: 2, data: Float64Array.from([2, 1, 1, 2]) };
    const g = Float64Array.from([1, -2]);
    const result = await solveNonNegative({
      n: 2,
      rhs: g,
      solveFree: async (free, rhs) => {
        const x = new Float64Array(2);
        if (free[0] && free[1]) return choleskySolve(await cholesky(h), rhs);
        if (free[0]) x[0] = rhs[0]! / 2;
        if (free[1]) x[1] = rhs[1]! / 2;
        return x;
      },
      multiply: (x) => Float64Array.from([2 * x[0]! + x[1]!, x[0]! + 2 * x[1]!]),
    });
    expect(result.x[0]).toBeCloseTo(0.5, 12);
    expect(result.x[1]).toBe(0);
  });

  it('splits changed blocks into contiguous runs', () => {
    expect(contiguousRuns([5, 1, 2, 3, 9, 10], 2)).toEqual([[1, 2], [3], [5], [9, 10]]);
  });
});
