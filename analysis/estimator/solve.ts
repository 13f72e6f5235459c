/**
 * The small solve after the SQL: per resource r, the posterior of the cost vector θ_r under
 *   y_r = X·θ_r + ε,  ε ~ (0, σ_r²·I),  prior θ_r,q ~ N(μ_r, τ_r²) independently,  θ_r ≥ 0,
 * i.e. ridge regression toward the prior mean with strength λ_r = σ_r²/τ_r²:
 *   (XᵀX + λ_r·I)·θ_r = Xᵀy_r + λ_r·μ_r,  Cov(θ_r) ≈ σ_r²·(XᵀX + λ_r·I)⁻¹.
 * A query seen in few windows has a small diagonal in XᵀX, so the prior weighs in: it leans on the
 * mean cost. A well-observed one is pinned by its data. Never seen: not in the matrix; the reader
 * hands out the prior (μ_r, τ_r) for it.
 *
 * Empirical Bayes: μ_r, τ_r and σ_r come from the data, by maximizing the marginal likelihood
 *   y ~ N(μ·X1, σ²·(I + XXᵀ/λ)),
 * which needs only the sufficient statistics: −2·log L = W·log σ² + log det(XᵀX + λI) − n·log λ + Q/σ²
 * with Q = yᵀy − 2μ·1ᵀXᵀy + μ²·1ᵀXᵀX1 − bᵀ(XᵀX + λI)⁻¹b, b = Xᵀy − μ·XᵀX1. For a given λ, μ and σ²
 * have closed forms (μ: a ratio of two solves; σ² = Q/W, never below the truncation noise, which is
 * known: a window total is known to an interval [L, U], so σ² ≥ mean((U − L + 1)² − 1)/12, ≈ 8.25
 * for 10 samples). λ is found on a grid of log λ (one Cholesky per point, shared by the three
 * resources) refined by a parabola. A σ² above
 * the truncation noise means the model does not fit (rows missing): the intervals widen with it.
 * This works whether the data pins every query down (100 queries, 600 windows) or not (1000
 * queries, 600 windows: the prior then carries the rare queries, and its spread is learned too).
 *
 * Numerics: dense Cholesky up to `denseLimit` queries (exact diag(H⁻¹) for the sd's). Above it,
 * conjugate gradients on the sparse XᵀX, the prior from the moments of the well-determined queries,
 * and the conditional variance σ²/H_qq as the sd (a lower bound: intervals narrower than exact).
 */
import {
  cholesky,
  choleskySolve,
  conjugateGradient,
  denseFromSparse,
  denseMultiply,
  dot,
  inverseDiagonal,
  logDeterminant,
  sparseMultiply,
  submatrix,
  type DenseMatrix,
  type SparseSymmetric,
} from './linear-algebra.js';
import { solveNonNegative } from './nonnegative.js';
import { noPause, type Pause } from './pause.js';
import type { SufficientStats, Triple } from './stats.js';

/** Two-sided 95 % normal quantile. */
export const Z95 = 1.959963984540054;

export interface SolveOptions {
  /** Largest query count solved densely (Cholesky); above it, conjugate gradients. */
  denseLimit: number;
  /** Sparse path only: well-determined queries needed to estimate the prior from their moments. */
  minPriorQueries: number;
}

export const DEFAULT_SOLVE_OPTIONS: SolveOptions = { denseLimit: 1200, minPriorQueries: 5 };

export interface QueryEstimate {
  queryId: string;
  /** Cost per execution, per resource (cpu, io, memory). */
  mean: Triple;
  sd: Triple;
  lower: Triple;
  upper: Triple;
  /** Executions of the query in the windows used. */
  observations: number;
  windows: number;
  /** True when the estimate is the prior alone (no usable observation). */
  prior: boolean;
}

export interface CostSolution {
  estimates: QueryEstimate[];
  /** The prior: what a query never seen most likely costs, and how uncertain that is. */
  prior: { mean: Triple; sd: Triple; fromData: boolean };
  noise: {
    /** The σ used, per window total, per resource. */
    sd: Triple;
    /** Implied by the reconstruction intervals alone (the floor of `sd`). */
    truncationSd: Triple;
  };
  windows: number;
  executions: number;
  inconsistentWindows: number;
  /** Estimates held at 0 by the non-negativity constraint (summed over resources). */
  clamped: number;
  solver: 'dense' | 'sparse';
}

interface ResourceFit {
  lambda: number;
  mean: number;
  sigma2: number;
  fromData: boolean;
  /** Dense path: the Cholesky factor of XᵀX + λI at this λ, reused by the final solve. */
  factor?: DenseMatrix;
}

type ResourceIndex = 0 | 1 | 2;
const RESOURCE_INDICES: readonly ResourceIndex[] = [0, 1, 2];
/**
 * λ grid points (shared by the three resources) over the bracket of 4 decades of τ², then a
 * parabolic step: the optimum lands well within the likelihood's own uncertainty about τ.
 */
const GRID_POINTS = 11;

export async function solveCosts(
  stats: SufficientStats,
  options: SolveOptions = DEFAULT_SOLVE_OPTIONS,
  pause: Pause = noPause,
): Promise<CostSolution> {
  const n = stats.queries.length;
  const W = stats.totals.windows;
  const solver = n > options.denseLimit ? 'sparse' : 'dense';
  const base = {
    windows: W,
    executions: stats.totals.executions,
    inconsistentWindows: stats.totals.inconsistent,
    solver,
  } as const;
  if (n === 0 || W === 0) {
    const nan: Triple = [NaN, NaN, NaN];
    return {
      ...base,
      estimates: [],
      prior: { mean: nan, sd: nan, fromData: false },
      noise: { sd: nan, truncationSd: nan },
      clamped: 0,
    };
  }
  const truncationVar = triple((r) => Math.max(stats.totals.noise12[r] / 12 / W, 1e-6));
  // The mean cost per execution: a starting point and the fallback prior mean.
  const mu0 = triple((r) => Math.max(stats.totals.sumY[r] / Math.max(1, stats.totals.executions), 0));

  const fits: ResourceFit[] = [];
  const thetas: Float64Array[] = [];
  const variances: Float64Array[] = [];
  let clamped = 0;
  const dense = solver === 'dense' ? await likelihoodFits(stats, truncationVar, mu0, pause) : null;
  for (const r of RESOURCE_INDICES) {
    const fit = dense ? dense[r]! : await momentFit(stats, r, truncationVar[r], mu0[r], options.minPriorQueries);
    const system =
      solver === 'dense'
        ? await denseSystem(stats.gram, fit.lambda, pause, fit.factor)
        : sparseSystem(stats.gram, fit.lambda);
    const rhs = Float64Array.from(stats.xty[r], (v) => v + fit.lambda * fit.mean);
    const result = await solveNonNegative({ n, rhs, solveFree: system.solveFree, multiply: system.multiply });
    fits.push(fit);
    thetas.push(result.x);
    variances.push(Float64Array.from(await system.inverseDiagonal(), (d) => fit.sigma2 * Math.max(0, d)));
    clamped += result.clamped;
  }

  const estimates: QueryEstimate[] = stats.queries.map((queryId, q) => {
    const mean = triple((r) => thetas[r]![q]!);
    const sd = triple((r) => Math.sqrt(variances[r]![q]!));
    return {
      queryId,
      mean,
      sd,
      lower: triple((r) => Math.max(0, mean[r] - Z95 * sd[r])),
      upper: triple((r) => mean[r] + Z95 * sd[r]),
      observations: stats.executions[q]!,
      windows: stats.windows[q]!,
      prior: false,
    };
  });
  return {
    ...base,
    estimates,
    prior: {
      mean: triple((r) => fits[r]!.mean),
      sd: triple((r) => Math.sqrt(fits[r]!.sigma2 / fits[r]!.lambda)),
      fromData: fits.every((f) => f.fromData),
    },
    noise: { sd: triple((r) => Math.sqrt(fits[r]!.sigma2)), truncationSd: triple((r) => Math.sqrt(truncationVar[r])) },
    clamped,
  };
}

/**
 * Maximizes each resource's marginal likelihood over λ (μ and σ² in closed form for each λ). One
 * grid of λ values serves the three resources — each grid point is one Cholesky of XᵀX + λI, the
 * expensive part, shared — then a parabola through each resource's best grid point and its
 * neighbours places its optimum, where its factor is computed once more (and reused by the solve).
 */
async function likelihoodFits(
  stats: SufficientStats,
  sigma2Floor: Triple,
  mu0: Triple,
  pause: Pause,
): Promise<ResourceFit[]> {
  const { gram } = stats;
  const n = gram.n;
  const W = stats.totals.windows;
  const a = sparseMultiply(gram, new Float64Array(n), new Float64Array(n).fill(1)); // XᵀX·1
  const one = sum(a); // 1ᵀXᵀX1

  const factor = (u: number) => cholesky(denseFromSparse(gram, Math.exp(u)), pause);
  /** −2·log L at λ = e^u for resource r, given the factor of XᵀX + λI and H⁻¹·XᵀX1. */
  const objective = (r: ResourceIndex, u: number, l: DenseMatrix, ha: Float64Array) => {
    const g = stats.xty[r];
    const s1 = sum(g); // 1ᵀXᵀy
    const hg = choleskySolve(l, g);
    const gHg = dot(g, hg);
    const aHg = dot(a, hg);
    const aHa = dot(a, ha);
    const denominator = one - aHa;
    const mu = Math.max(0, denominator > 1e-12 * one ? (s1 - aHg) / denominator : mu0[r]);
    const yy = stats.totals.yy[r];
    const q = Math.max(0, yy - 2 * mu * s1 + mu * mu * one - (gHg - 2 * mu * aHg + mu * mu * aHa));
    const sigma2 = Math.max(sigma2Floor[r], q / W);
    return { mu, sigma2, value: W * Math.log(sigma2) + logDeterminant(l) - n * u + q / sigma2 };
  };

  // τ between 10 % and 10× the mean cost (at least 1 and 10 units), λ = σ²/τ², over all resources.
  // The floor: a prior learned from a very uniform set of queries must leave room for a new one.
  const lo = Math.min(...RESOURCE_INDICES.map((r) => Math.log(sigma2Floor[r] / Math.max(10 * mu0[r], 10) ** 2)));
  const hi = Math.max(...RESOURCE_INDICES.map((r) => Math.log(sigma2Floor[r] / Math.max(0.1 * mu0[r], 1) ** 2)));
  const grid = Array.from({ length: GRID_POINTS }, (_, i) => lo + ((hi - lo) * i) / (GRID_POINTS - 1));
  const values: number[][] = [[], [], []];
  for (const u of grid) {
    const l = await factor(u);
    const ha = choleskySolve(l, a);
    for (const r of RESOURCE_INDICES) values[r]!.push(objective(r, u, l, ha).value);
  }

  const fits: ResourceFit[] = [];
  for (const r of RESOURCE_INDICES) {
    const v = values[r]!;
    const i = v.indexOf(Math.min(...v));
    let u = grid[i]!;
    if (i > 0 && i < grid.length - 1) {
      // Vertex of the parabola through the three points (equal spacing h).
      const h = grid[1]! - grid[0]!;
      const curvature = v[i - 1]! - 2 * v[i]! + v[i + 1]!;
      if (curvature > 0) u += (h * (v[i - 1]! - v[i + 1]!)) / (2 * curvature);
    }
    const l = await factor(u);
    const best = objective(r, u, l, choleskySolve(l, a));
    fits.push({ lambda: Math.exp(u), mean: best.mu, sigma2: best.sigma2, fromData: true, factor: l });
  }
  return fits;
}

/**
 * Sparse path: a weak ridge (τ₀ = the mean cost) gives near-unshrunk estimates; the queries they
 * determine well (conditional sd ≤ 10 % of τ₀) give the prior's mean and spread by moments.
 */
async function momentFit(
  stats: SufficientStats,
  r: ResourceIndex,
  sigma2: number,
  mu0: number,
  minQueries: number,
): Promise<ResourceFit> {
  const tau0 = Math.max(mu0, 1);
  const lambda0 = sigma2 / tau0 ** 2;
  const system = sparseSystem(stats.gram, lambda0);
  const all = new Uint8Array(stats.gram.n).fill(1);
  const theta = await system.solveFree(
    all,
    Float64Array.from(stats.xty[r], (v) => v + lambda0 * mu0),
  );
  const diag = await system.inverseDiagonal();
  const values: number[] = [];
  const vars: number[] = [];
  for (let q = 0; q < theta.length; q++) {
    const v = sigma2 * diag[q]!;
    if (Math.sqrt(v) <= 0.1 * tau0) {
      values.push(theta[q]!);
      vars.push(v);
    }
  }
  if (values.length < minQueries) return { lambda: lambda0, mean: mu0, sigma2, fromData: false };
  const m = sum(values) / values.length;
  const spread = sum(values.map((v) => (v - m) ** 2)) / (values.length - 1) - sum(vars) / vars.length;
  // Never narrower than 1 unit or 10 % of the mean (as in likelihoodFits).
  const tau2 = Math.max(spread, 1, (0.1 * m) ** 2);
  return { lambda: sigma2 / tau2, mean: Math.max(0, m), sigma2, fromData: true };
}

interface RidgeSystem {
  solveFree: (free: Uint8Array, rhs: Float64Array) => Promise<Float64Array>;
  multiply: (x: Float64Array) => Float64Array;
  inverseDiagonal: () => Promise<Float64Array>;
}

async function denseSystem(
  gram: SparseSymmetric,
  lambda: number,
  pause: Pause,
  factor?: DenseMatrix,
): Promise<RidgeSystem> {
  const h = denseFromSparse(gram, lambda);
  const full = factor ?? (await cholesky(h, pause));
  return {
    async solveFree(free, rhs) {
      if (free.every((f) => f === 1)) return choleskySolve(full, rhs);
      const { m, index } = submatrix(h, free);
      const x = new Float64Array(h.n);
      if (m.n === 0) return x;
      const sub = choleskySolve(
        await cholesky(m, pause),
        Float64Array.from(index, (i) => rhs[i]!),
      );
      index.forEach((i, k) => (x[i] = sub[k]!));
      return x;
    },
    multiply: (x) => denseMultiply(h, x),
    inverseDiagonal: () => inverseDiagonal(full, pause),
  };
}

function sparseSystem(gram: SparseSymmetric, lambda: number): RidgeSystem {
  const ridge = new Float64Array(gram.n).fill(lambda);
  const diagonal = Float64Array.from(gram.diag, (d) => d + lambda);
  const cg = { tolerance: 1e-12, maxIterations: Math.max(200, 2 * gram.n) };
  return {
    solveFree: (free, rhs) =>
      Promise.resolve(conjugateGradient((x) => sparseMultiply(gram, ridge, x, free), rhs, diagonal, { ...cg, free })),
    multiply: (x) => sparseMultiply(gram, ridge, x),
    inverseDiagonal: () => Promise.resolve(Float64Array.from(diagonal, (d) => 1 / d)),
  };
}

function triple(f: (r: ResourceIndex) => number): Triple {
  return [f(0), f(1), f(2)];
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}
