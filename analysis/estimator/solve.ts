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
 * the truncation noise means the model does not fit (rows missing), or, with more queries than
 * windows, that the likelihood cannot tell noise from prior spread: the intervals widen with it.
 * σ² = Q/W is the marginal likelihood's own estimate; the unknowns enter through the log det, so
 * no residual degrees-of-freedom correction (W − p) applies.
 * This works whether the data pins every query down (100 queries, 600 windows) or not (1000
 * queries, 600 windows: the prior then carries the rare queries, and its spread is learned too).
 *
 * Numerics: up to `denseLimit` queries, a dense Cholesky of XᵀX + λI per λ. Above it, while the
 * windows are fewer than ¾ of the queries, the same computation through the rank of XᵀX
 * (low-rank.ts: XᵀX = G·Gᵀ by a pivoted Cholesky, then r×r factors by Woodbury; r ≤ windows), so
 * a large catalog gets the same marginal-likelihood prior and the same exact sd's — the marginal
 * posterior variance σ²·(H⁻¹)_qq, correlations and the prior included — as a small one.
 */
import { sparseMultiply } from './linear-algebra.js';
import { factorGram, lowRankRidge } from './low-rank.js';
import { solveNonNegative } from './nonnegative.js';
import { noPause, type Pause } from './pause.js';
import { denseRidge, type RidgeFactor, type RidgeFactorizer } from './ridge.js';
import type { SufficientStats, Triple } from './stats.js';

/** Two-sided 95 % normal quantile. */
export const Z95 = 1.959963984540054;

export interface SolveOptions {
  /** Largest query count solved densely (n×n Cholesky); above it, through the rank of XᵀX. */
  denseLimit: number;
}

export const DEFAULT_SOLVE_OPTIONS: SolveOptions = { denseLimit: 1200 };

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
  solver: 'dense' | 'low-rank';
}

interface ResourceFit {
  lambda: number;
  mean: number;
  sigma2: number;
  fromData: boolean;
  /** XᵀX + λI factored at this λ, reused by the final solve. */
  factor: RidgeFactor;
}

/**
 * Above the dense limit, the low-rank path while the windows (which bound the rank r) are fewer
 * than this share of the queries. Its cost is about 2.5·n·r² + 2.3·r³ multiply-adds against 2.8·n³
 * densely (grid and variances included): equal near r = 0.77·n. Measured at 1 862 queries and
 * 1 800 windows: 65 s CPU through the rank, 44 s densely (same estimates).
 */
const LOW_RANK_MAX_WINDOW_SHARE = 0.75;

/** Both paths give the same estimates; the choice is the cheaper one. */
function chooseSolver(n: number, windows: number, denseLimit: number): CostSolution['solver'] {
  return n > denseLimit && windows < LOW_RANK_MAX_WINDOW_SHARE * n ? 'low-rank' : 'dense';
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
  const solver = chooseSolver(n, W, options.denseLimit);
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

  // The vectors of the likelihood's bilinear forms: XᵀX·1, then Xᵀy per resource.
  const vectors = [sparseMultiply(stats.gram, new Float64Array(n), new Float64Array(n).fill(1)), ...stats.xty];
  const ridge =
    solver === 'dense'
      ? denseRidge(stats.gram, vectors, pause)
      : lowRankRidge(await factorGram(stats.gram, W, pause), vectors, pause);
  const fits = await likelihoodFits(stats, truncationVar, mu0, ridge);
  const thetas: Float64Array[] = [];
  const variances: Float64Array[] = [];
  let clamped = 0;
  for (const r of RESOURCE_INDICES) {
    const fit = fits[r]!;
    const diagonal = new Float64Array(n).fill(fit.lambda);
    const rhs = Float64Array.from(stats.xty[r], (v) => v + fit.lambda * fit.mean);
    const result = await solveNonNegative({
      n,
      rhs,
      solveFree: (free, v) =>
        free.every((f) => f === 1) ? Promise.resolve(fit.factor.solve(v)) : ridge.solveFree(fit.lambda, free, v),
      multiply: (x) => sparseMultiply(stats.gram, diagonal, x),
    });
    thetas.push(result.x);
    variances.push(Float64Array.from(await fit.factor.inverseDiagonal(), (d) => fit.sigma2 * Math.max(0, d)));
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
 * grid of λ values serves the three resources — each grid point is one factorization of XᵀX + λI,
 * the expensive part, shared — then a parabola through each resource's best grid point and its
 * neighbours places its optimum, where the system is factored once more (and reused by the solve).
 */
async function likelihoodFits(
  stats: SufficientStats,
  sigma2Floor: Triple,
  mu0: Triple,
  ridge: RidgeFactorizer,
): Promise<ResourceFit[]> {
  const n = stats.gram.n;
  const W = stats.totals.windows;
  // Vector 0 of the factorizer is a = XᵀX·1, vector 1 + r is Xᵀy_r (see solveCosts).
  const one = sum(stats.gram.diag) + 2 * sum(stats.gram.values); // 1ᵀXᵀX1

  /** −2·log L at λ = e^u for resource r, given XᵀX + λI factored. */
  const objective = (r: ResourceIndex, u: number, h: RidgeFactor) => {
    const s1 = sum(stats.xty[r]); // 1ᵀXᵀy
    const gHg = h.form(1 + r, 1 + r);
    const aHg = h.form(0, 1 + r);
    const aHa = h.form(0, 0);
    const denominator = one - aHa;
    const mu = Math.max(0, denominator > 1e-12 * one ? (s1 - aHg) / denominator : mu0[r]);
    const yy = stats.totals.yy[r];
    const q = Math.max(0, yy - 2 * mu * s1 + mu * mu * one - (gHg - 2 * mu * aHg + mu * mu * aHa));
    const sigma2 = Math.max(sigma2Floor[r], q / W);
    return { mu, sigma2, value: W * Math.log(sigma2) + h.logDeterminant - n * u + q / sigma2 };
  };

  // τ between 10 % and 10× the mean cost (at least 1 and 10 units), λ = σ²/τ², over all resources.
  // The floor: a prior learned from a very uniform set of queries must leave room for a new one.
  const lo = Math.min(...RESOURCE_INDICES.map((r) => Math.log(sigma2Floor[r] / Math.max(10 * mu0[r], 10) ** 2)));
  const hi = Math.max(...RESOURCE_INDICES.map((r) => Math.log(sigma2Floor[r] / Math.max(0.1 * mu0[r], 1) ** 2)));
  const grid = Array.from({ length: GRID_POINTS }, (_, i) => lo + ((hi - lo) * i) / (GRID_POINTS - 1));
  const values: number[][] = [[], [], []];
  for (const u of grid) {
    const h = await ridge.factor(Math.exp(u));
    for (const r of RESOURCE_INDICES) values[r]!.push(objective(r, u, h).value);
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
    const factor = await ridge.factor(Math.exp(u));
    const best = objective(r, u, factor);
    fits.push({ lambda: Math.exp(u), mean: best.mu, sigma2: best.sigma2, fromData: true, factor });
  }
  return fits;
}

function triple(f: (r: ResourceIndex) => number): Triple {
  return [f(0), f(1), f(2)];
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s;
}
