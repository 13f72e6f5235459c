/** The chaos run's split of the scheduler's hit rate and the in-band rate outside and inside fault windows. */
import { describe, expect, it } from 'vitest';
import { overlaps, ratesAroundFaults } from '../../../system/chaos/fault-windows.js';

describe('ratesAroundFaults', () => {
  it('puts each step between samples and each metrics window inside when it overlaps a fault', () => {
    const r = ratesAroundFaults({
      faults: [{ from: 2000, to: 3000 }],
      // Cumulative figures: 10 decisions a second, all hits except during the fault (4 of 10).
      samples: [
        { at: 0, decisions: 0, hits: 0 },
        { at: 1000, decisions: 10, hits: 10 },
        { at: 2000, decisions: 20, hits: 20 },
        { at: 3000, decisions: 30, hits: 24 },
        { at: 4000, decisions: 40, hits: 34 },
        { at: 5000, decisions: 50, hits: 44 },
      ],
      windows: [
        { t: 0, inBand: true },
        { t: 1000, inBand: false },
        { t: 2500, inBand: false },
        { t: 3000, inBand: true },
        { t: 9000, inBand: false }, // after `to`: left out
      ],
      windowMs: 1000,
      from: 0,
      to: 5000,
    });
    expect(r.insideFaults).toEqual({ decisions: 10, hitRate: 0.4, windows: 1, inBand: 0 });
    expect(r.outsideFaults).toEqual({ decisions: 40, hitRate: 1, windows: 3, inBand: 2 / 3 });
  });

  it('has no rate where nothing happened, and touching intervals do not overlap', () => {
    const r = ratesAroundFaults({ faults: [], samples: [], windows: [], windowMs: 1000, from: 0, to: 1 });
    expect(r.insideFaults).toEqual({ decisions: 0, hitRate: null, windows: 0, inBand: null });
    expect(overlaps({ from: 0, to: 1000 }, [{ from: 1000, to: 2000 }])).toBe(false);
    expect(overlaps({ from: 0, to: 1001 }, [{ from: 1000, to: 2000 }])).toBe(true);
  });
});
