import { describe, expect, it } from 'vitest';
import { Random } from '../../server/random.js';

const minOf = (xs: number[]) => xs.reduce((a, b) => Math.min(a, b), Infinity);
const maxOf = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);

function moments(xs: number[]) {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, sd: Math.sqrt(variance) };
}

describe('Random', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = new Random('seed-1');
    const b = new Random('seed-1');
    const c = new Random('seed-2');
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const r = new Random('uniform');
    const xs = Array.from({ length: 200_000 }, () => r.next());
    expect(minOf(xs)).toBeGreaterThanOrEqual(0);
    expect(maxOf(xs)).toBeLessThan(1);
    const { mean, sd } = moments(xs);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(sd ** 2).toBeCloseTo(1 / 12, 2);
  });

  it('draws standard normals and unit exponentials', () => {
    const r = new Random('dists');
    const normal = moments(Array.from({ length: 200_000 }, () => r.normal()));
    expect(Math.abs(normal.mean)).toBeLessThan(0.01);
    expect(Math.abs(normal.sd - 1)).toBeLessThan(0.01);
    const exp = Array.from({ length: 200_000 }, () => r.exponential());
    expect(minOf(exp)).toBeGreaterThanOrEqual(0);
    const e = moments(exp);
    expect(Math.abs(e.mean - 1)).toBeLessThan(0.01);
    expect(Math.abs(e.sd - 1)).toBeLessThan(0.02);
  });

  it('draws skew-normals with the mean and deviation of the closed form', () => {
    const r = new Random('skew');
    for (const shape of [-10, 10, 0]) {
      const delta = shape / Math.sqrt(1 + shape * shape);
      const xs = Array.from({ length: 200_000 }, () => r.skewNormal(70, 15, shape));
      const m = moments(xs);
      expect(Math.abs(m.mean - (70 + 15 * delta * Math.sqrt(2 / Math.PI)))).toBeLessThan(0.1);
      expect(Math.abs(m.sd - 15 * Math.sqrt(1 - (2 * delta * delta) / Math.PI))).toBeLessThan(0.1);
    }
  });

  it('makes well-formed version-4 UUIDs without repeats', () => {
    const r = new Random('uuid');
    const ids = Array.from({ length: 50_000 }, () => r.uuid());
    for (const id of ids.slice(0, 1000)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});
