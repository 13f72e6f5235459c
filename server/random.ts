/**
 * A small seeded random generator, so that one seed and one set of parameters always give the same
 * catalog and the same event stream (the reference used an unseeded global generator).
 *
 * Written here rather than taken from a package on purpose: the exact output sequence is part of
 * the product's reproducibility contract (a recorded run must replay bit for bit after a dependency
 * upgrade), and the algorithms are a few published lines each:
 * - the seed text is hashed with cyrb128 into 128 bits of state;
 * - numbers come from sfc32 (Chris Doty-Humphrey's Small Fast Counter, passes PractRand);
 * - normals use the Box–Muller transform, exponentials the inverse CDF.
 */

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(seed: string) {
    [this.a, this.b, this.c, this.d] = cyrb128(seed);
    // Discard the first outputs: sfc32 mixes its state over its first few rounds.
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    // 1 − next() is in (0, 1], so the logarithm is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const theta = 2 * Math.PI * this.next();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Exponential with rate 1 (mean 1). */
  exponential(): number {
    return -Math.log(1 - this.next());
  }

  /**
   * Skew-normal as docs/simulation.md defines it: δ = shape/√(1+shape²), X = U·√(1−δ²) + δ·|V| with U, V
   * independent standard normals, value = location + scale·X.
   */
  skewNormal(location: number, scale: number, shape: number): number {
    const delta = shape / Math.sqrt(1 + shape * shape);
    const u = this.normal();
    const v = this.normal();
    return location + scale * (u * Math.sqrt(1 - delta * delta) + delta * Math.abs(v));
  }

  /** A version-4 UUID (RFC 9562 layout) drawn from this generator. */
  uuid(): string {
    const w0 = this.nextUint32();
    const w1 = (this.nextUint32() & 0xffff0fff) | 0x00004000; // version 4
    const w2 = (this.nextUint32() & 0x3fffffff) | 0x80000000; // variant 10
    const w3 = this.nextUint32();
    const h = (w: number) => (w >>> 0).toString(16).padStart(8, '0');
    const a = h(w0);
    const b = h(w1);
    const c = h(w2);
    return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${h(w3)}`;
  }
}

/** cyrb128: a fast 128-bit string hash, used only to spread a seed over the generator's state. */
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
