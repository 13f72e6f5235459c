import { describe, expect, it } from 'vitest';
import {
  countByKind,
  DEFAULT_DURATIONS,
  FAULT_KINDS,
  faultSchedule,
  conflicting,
  ScheduleError,
  type PlannedFault,
} from '../../../system/chaos/schedule.js';

const params = { seed: 'chaos', phaseMs: 180_000, meanIntervalMs: 10_000 };

function overlapsSameKind(faults: PlannedFault[]): boolean {
  return faults.some((f, i) => faults.some((g, j) => j > i && g.kind === f.kind && g.atMs < f.atMs + f.durationMs));
}

describe('faultSchedule', () => {
  it('is deterministic: the same seed and parameters give the same schedule, another seed another one', () => {
    expect(faultSchedule(params)).toEqual(faultSchedule(params));
    expect(faultSchedule({ ...params, seed: 'other' })).not.toEqual(faultSchedule(params));
  });

  it('spreads about phase / mean interval faults over the phase, in order, each inside it', () => {
    const faults = faultSchedule(params);
    expect(faults).toHaveLength(18);
    for (let i = 1; i < faults.length; i++) expect(faults[i]!.atMs).toBeGreaterThan(faults[i - 1]!.atMs);
    for (const f of faults) {
      expect(f.atMs).toBeGreaterThanOrEqual(0);
      expect(f.atMs + f.durationMs).toBeLessThanOrEqual(params.phaseMs);
      expect(f.durationMs).toBeLessThanOrEqual(DEFAULT_DURATIONS[f.kind][1]);
    }
    expect(faults[0]!.atMs).toBeLessThan(10_000);
    expect(faults.at(-1)!.atMs).toBeGreaterThan(170_000 - 10_000);
  });

  it('covers every kind whatever the seed, even when the phase holds only one fault per kind', () => {
    for (let s = 0; s < 200; s++) {
      const faults = faultSchedule({ seed: `s${s}`, phaseMs: 30_000, meanIntervalMs: 60_000 });
      expect(faults).toHaveLength(FAULT_KINDS.length);
      expect(Object.values(countByKind(faults))).toEqual(FAULT_KINDS.map(() => 1));
      const long = faultSchedule({ seed: `s${s}`, phaseMs: 120_000, meanIntervalMs: 5000 });
      for (const n of Object.values(countByKind(long))) expect(n).toBeGreaterThanOrEqual(1);
      // A fault of a kind ends before the next one of the same kind starts.
      expect(overlapsSameKind(long)).toBe(false);
    }
  });

  it('draws both variants of Redis restarts and insert failures, and only kills for processes', () => {
    const faults = Array.from({ length: 20 }, (_, s) => faultSchedule({ ...params, seed: `v${s}` })).flat();
    const variants = (kind: string) => new Set(faults.filter((f) => f.kind === kind).map((f) => f.variant));
    expect(variants('restart-redis')).toEqual(new Set(['SIGTERM', 'SIGKILL']));
    expect(variants('clickhouse-insert-failures')).toEqual(new Set(['refuse', 'lost-reply']));
    for (const k of ['kill-ingest', 'kill-scheduler', 'kill-analysis', 'kill-server'])
      expect(variants(k)).toEqual(new Set(['SIGKILL']));
    expect(variants('disk-full')).toEqual(new Set(['ENOSPC']));
    for (const k of FAULT_KINDS.filter((kind) => kind.startsWith('partition-')))
      expect(variants(k), k).toEqual(new Set(['blackhole', 'reset']));
  });

  it('never overlaps two faults that stop the server or what its start needs', () => {
    const server = conflicting('kill-server');
    expect(new Set(server)).toEqual(new Set(['kill-server', 'disk-full', 'restart-redis', 'partition-server-redis']));
    expect(conflicting('partition-ingest-redis')).toEqual(['partition-ingest-redis']);
    for (let s = 0; s < 100; s++) {
      const faults = faultSchedule({ seed: `g${s}`, phaseMs: 360_000, meanIntervalMs: 5000 });
      const group = faults.filter((f) => server.includes(f.kind));
      for (let i = 1; i < group.length; i++) {
        expect(group[i]!.atMs).toBeGreaterThanOrEqual(group[i - 1]!.atMs + group[i - 1]!.durationMs);
      }
    }
  });

  it('takes a subset of kinds and custom durations; refuses a phase too short for its faults', () => {
    const faults = faultSchedule({
      ...params,
      kinds: ['restart-redis'],
      durations: { 'restart-redis': [2000, 2000] },
    });
    expect(new Set(faults.map((f) => f.kind))).toEqual(new Set(['restart-redis']));
    expect(faults.every((f) => f.durationMs === 2000)).toBe(true);
    expect(faultSchedule({ ...params, kinds: [] })).toEqual([]);
    expect(() => faultSchedule({ ...params, phaseMs: 2000 })).toThrow(ScheduleError);
    expect(() => faultSchedule({ ...params, meanIntervalMs: 0 })).toThrow(ScheduleError);
  });
});
