/**
 * The query catalog, made once at start (docs/simulation.md "Query catalog"): N queries, profile
 * `i mod 3`, an integer cost vector drawn from skew-normals, and a base per-tick probability
 * `p_i = E_i / N` with `E_i ~ Exponential(1)`.
 *
 * Draw order per query (part of the reproducibility contract): id, cpu, memory, io, E_i.
 */
import type { Profile, TrueQuery } from '../common/contracts.js';
import { Random } from './random.js';

/** Skew-normal parameters for a profile's dominant resource and for the other two. */
export const DOMINANT_COST = { location: 70, scale: 15, shape: -10 } as const;
export const OTHER_COST = { location: 30, scale: 15, shape: 10 } as const;

const PROFILES: readonly Profile[] = ['cpu', 'io', 'memory'];

export function profileOf(index: number): Profile {
  return PROFILES[index % 3]!;
}

export function createCatalog(seed: string, queryCount: number): TrueQuery[] {
  // The catalog has its own stream, so changing traffic parameters never changes the catalog.
  const rng = new Random(`${seed}/catalog`);
  const draw = (dominant: boolean): number => {
    const p = dominant ? DOMINANT_COST : OTHER_COST;
    return Math.trunc(rng.skewNormal(p.location, p.scale, p.shape));
  };
  const queries: TrueQuery[] = [];
  for (let i = 0; i < queryCount; i++) {
    const profile = profileOf(i);
    const id = rng.uuid();
    const cpu = draw(profile === 'cpu');
    const memory = draw(profile === 'memory');
    const io = draw(profile === 'io');
    const probability = rng.exponential() / queryCount;
    queries.push({ id, profile, cpu, memory, io, probability });
  }
  return queries;
}
