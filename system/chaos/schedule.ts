/**
 * The chaos run's fault schedule: which fault, when, for how long. A pure function of its
 * parameters and seed (the same seed gives the same schedule), so a failing run can be repeated.
 *
 * How it is drawn: the fault phase is cut into `count` equal slots, `count` = the phase length over
 * the mean interval, and at least one per kind; each fault starts at a random point of the first
 * four fifths of its slot (so faults are spread over the whole phase, never bunched at one end).
 * Kinds: every kind once, then random kinds, the whole list shuffled, so every kind is covered
 * whatever the seed. Durations are drawn in each kind's range and cut so that a fault ends before
 * the next fault of the same kind (or of a conflicting kind: `conflicting`) starts and before the
 * phase ends (other faults may overlap: Redis may restart while the ingest worker is down).
 */
import { Random } from '../../server/random.js';
import { LINKS, perLink } from './links.js';

export const FAULT_KINDS = [
  'kill-ingest',
  'kill-scheduler',
  'kill-analysis',
  'restart-redis',
  'clickhouse-insert-failures',
  'kill-server',
  'disk-full',
  ...LINKS.map((l) => `partition-${l}` as const),
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * kill-*: SIGKILL, then the process is started again after the duration.
 * restart-redis: SIGTERM (a clean stop, AOF flushed) or SIGKILL (a crash); started again on the same
 * port and data directory after the duration.
 * clickhouse-insert-failures: every INSERT fails for the duration, `refuse` (not run) or
 * `lost-reply` (run, then answered with the error).
 * kill-server: SIGKILL of the database server (its capture with it), started again on the same data
 * directory after the duration (a new run of the same database).
 * disk-full: the server's outbox filesystem fills up (ENOSPC): the server fail-stops; once space is
 * back (after the duration) it is started again.
 * partition-<link>: the link's proxy (fault-proxy.ts) hangs its connections (`blackhole`) or cuts
 * them and refuses new ones (`reset`) for the duration.
 */
export type FaultVariant = 'SIGKILL' | 'SIGTERM' | 'refuse' | 'lost-reply' | 'ENOSPC' | 'blackhole' | 'reset';

export interface PlannedFault {
  /** Ms after the start of the fault phase. */
  atMs: number;
  kind: FaultKind;
  variant: FaultVariant;
  /** How long the component stays down (or inserts keep failing), ms. */
  durationMs: number;
}

export interface ScheduleParams {
  seed: string;
  /** Length of the fault phase, ms: every fault starts and ends inside it. */
  phaseMs: number;
  /** Mean time between fault starts, ms. */
  meanIntervalMs: number;
  kinds?: readonly FaultKind[];
  /** Duration range per kind, ms (defaults: DEFAULT_DURATIONS). */
  durations?: Partial<Record<FaultKind, readonly [number, number]>>;
}

/** Down time per kind, [min, max] ms. */
export const DEFAULT_DURATIONS: Record<FaultKind, readonly [number, number]> = {
  'kill-ingest': [500, 3000],
  'kill-scheduler': [500, 3000],
  'kill-analysis': [500, 3000],
  'restart-redis': [1000, 5000],
  'clickhouse-insert-failures': [3000, 10_000],
  'kill-server': [500, 3000],
  'disk-full': [500, 3000],
  ...perLink([1000, 6000] as const),
};

const VARIANTS: Record<FaultKind, readonly FaultVariant[]> = {
  'kill-ingest': ['SIGKILL'],
  'kill-scheduler': ['SIGKILL'],
  'kill-analysis': ['SIGKILL'],
  'restart-redis': ['SIGTERM', 'SIGKILL'],
  'clickhouse-insert-failures': ['refuse', 'lost-reply'],
  'kill-server': ['SIGKILL'],
  'disk-full': ['ENOSPC'],
  ...perLink(['blackhole', 'reset'] as const),
};

/**
 * Kinds that must not overlap one another: each stops the server or cuts what its start needs (a
 * server starting while Redis is down or unreachable is refused), so one ends before the next starts.
 */
const SERVER_GROUP: readonly FaultKind[] = ['kill-server', 'disk-full', 'restart-redis', 'partition-server-redis'];

/** The kinds a fault of `kind` must not overlap (its own kind, and the server group's). */
export function conflicting(kind: FaultKind): readonly FaultKind[] {
  return SERVER_GROUP.includes(kind) ? SERVER_GROUP : [kind];
}

/** The shortest a fault may be cut to (it still happens: a kill is a kill). */
const MIN_DURATION_MS = 100;

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

export function faultSchedule(p: ScheduleParams): PlannedFault[] {
  const kinds = [...new Set(p.kinds ?? FAULT_KINDS)];
  if (kinds.length === 0) return [];
  if (!(p.phaseMs > 0) || !(p.meanIntervalMs > 0)) throw new ScheduleError('phaseMs and meanIntervalMs must be > 0');
  const count = Math.max(kinds.length, Math.round(p.phaseMs / p.meanIntervalMs));
  const slot = p.phaseMs / count;
  if (slot < 10 * MIN_DURATION_MS) {
    throw new ScheduleError(`a ${p.phaseMs} ms phase is too short for ${count} faults`);
  }
  const rng = new Random(`chaos-schedule:${p.seed}`);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng.next() * list.length)]!;

  const order: FaultKind[] = [...kinds];
  while (order.length < count) order.push(pick(kinds));
  // Fisher–Yates with the seeded generator.
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }

  const faults: PlannedFault[] = order.map((kind, i) => {
    const [min, max] = p.durations?.[kind] ?? DEFAULT_DURATIONS[kind];
    return {
      atMs: Math.round(i * slot + rng.next() * slot * 0.8),
      kind,
      variant: pick(VARIANTS[kind]),
      durationMs: Math.round(min + rng.next() * (max - min)),
    };
  });
  // Cut each fault so it ends before the phase ends and before the next conflicting fault starts.
  for (let i = 0; i < faults.length; i++) {
    const f = faults[i]!;
    const next = faults.slice(i + 1).find((g) => conflicting(f.kind).includes(g.kind));
    const limit = Math.min(p.phaseMs, next ? next.atMs - MIN_DURATION_MS : Infinity) - f.atMs;
    f.durationMs = Math.max(MIN_DURATION_MS, Math.min(f.durationMs, limit));
  }
  return faults;
}

/** How many faults of each kind a schedule (or a list of injected faults) holds. */
export function countByKind(faults: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of faults) counts[f.kind]++;
  return counts;
}
