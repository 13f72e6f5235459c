import { describe, expect, it } from 'vitest';
import type { Resource } from '../../common/contracts.js';
import { createCatalog, DOMINANT_COST, OTHER_COST } from '../../server/catalog.js';

/** Mean of trunc(location + scale·X) for the skew-normal X: the closed-form mean minus ≈ 0.5 for truncation. */
function expectedMean(p: { location: number; scale: number; shape: number }) {
  const delta = p.shape / Math.sqrt(1 + p.shape ** 2);
  return p.location + p.scale * delta * Math.sqrt(2 / Math.PI) - 0.5;
}
function expectedSd(p: { scale: number; shape: number }) {
  const delta = p.shape / Math.sqrt(1 + p.shape ** 2);
  return p.scale * Math.sqrt(1 - (2 * delta ** 2) / Math.PI);
}

describe('createCatalog', () => {
  const catalog = createCatalog('catalog-moments', 30_000);

  it('gives query i the profile i mod 3 (cpu, io, memory) and integer costs', () => {
    expect(catalog.slice(0, 6).map((q) => q.profile)).toEqual(['cpu', 'io', 'memory', 'cpu', 'io', 'memory']);
    for (const q of catalog.slice(0, 3000)) {
      expect(Number.isInteger(q.cpu) && Number.isInteger(q.io) && Number.isInteger(q.memory)).toBe(true);
    }
    expect(new Set(catalog.map((q) => q.id)).size).toBe(catalog.length);
  });

  it('draws the dominant resource from SN(70, 15, −10) and the others from SN(30, 15, +10), per profile', () => {
    const resources: Resource[] = ['cpu', 'io', 'memory'];
    for (const profile of resources) {
      const qs = catalog.filter((q) => q.profile === profile);
      for (const r of resources) {
        const xs = qs.map((q) => q[r]);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
        const third = xs.reduce((a, b) => a + (b - mean) ** 3, 0) / xs.length / sd ** 3;
        const params = r === profile ? DOMINANT_COST : OTHER_COST;
        // Standard error of the mean is ≈ 0.09 here; 0.4 is over four of them.
        expect(Math.abs(mean - expectedMean(params)), `${profile}/${r} mean ${mean}`).toBeLessThan(0.4);
        expect(Math.abs(sd - expectedSd(params)), `${profile}/${r} sd ${sd}`).toBeLessThan(0.3);
        // Dominant costs lean left (long tail of cheap queries), the others lean right.
        expect(Math.sign(third)).toBe(r === profile ? -1 : 1);
      }
    }
  });

  it('gives base probabilities E/N with E ~ Exponential(1), so they sum to about 1', () => {
    const n = catalog.length;
    const e = catalog.map((q) => q.probability * n);
    const mean = e.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(mean - 1)).toBeLessThan(0.03);
    // Exponential: about 1 − e^−0.1 ≈ 9.5 % of queries are ten times rarer than average.
    const rare = e.filter((x) => x < 0.1).length / n;
    expect(Math.abs(rare - (1 - Math.exp(-0.1)))).toBeLessThan(0.01);
  });

  it('is the same for the same seed and different for another', () => {
    expect(createCatalog('s', 50)).toEqual(createCatalog('s', 50));
    expect(createCatalog('s', 50)).not.toEqual(createCatalog('t', 50));
  });
});
