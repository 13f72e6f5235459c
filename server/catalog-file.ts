/**
 * One database across restarts: the catalog (which queries exist, what they cost, how often they
 * run) is a function of the seed and the query count, so a data directory keeps the pair it was
 * made with in `<data-dir>/catalog.json`, and every later start reuses it. A start that asks for
 * another seed or query count on that directory is refused before anything starts: it would be
 * another database writing into this one's tables. `--new-catalog` is the explicit way to start a
 * new catalog in the same directory (the earlier runs' rows stay, told apart by run_id).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SpikeError } from '../common/errors.js';
import { toggle, type Setting } from '../common/settings.js';
import { DEFAULT_SIMULATION, randomSeed, simulationSettings } from './options.js';

export const CATALOG_FILE = 'catalog.json';

export const catalogSettings = {
  // A flag only, no variable: a variable left set would start a new catalog on every restart.
  newCatalog: toggle({
    flag: '--new-catalog',
    default: false,
    doc: 'Start a new catalog in the data directory (new seed: --seed, or a random one) instead of the one it was made with; earlier runs stay in ClickHouse, told apart by run_id.',
  }),
};

/**
 * The simulation settings of a server start: the query count, like the seed, has no fixed default,
 * so a start that does not ask for one takes its data directory's.
 */
export const serverSimulationSettings = {
  ...simulationSettings,
  queryCount: {
    ...simulationSettings.queryCount,
    default: undefined,
    doc: `${simulationSettings.queryCount.doc} Default: the data directory's (catalog.json), ${DEFAULT_SIMULATION.queryCount} for a new one.`,
  } as Setting<number | undefined>,
  seed: {
    ...simulationSettings.seed,
    doc: 'Random seed (any text); the same seed and parameters give the same catalog and events. Default: the data directory’s (catalog.json); random for a new one, and logged.',
  },
};

/** What makes a catalog: the same pair always gives the same queries. */
export interface CatalogIdentity {
  seed: string;
  queryCount: number;
}

interface CatalogFile extends CatalogIdentity {
  createdAt: string;
}

/** A start asked for a catalog other than the one its data directory was made with. */
export class CatalogMismatchError extends SpikeError {
  constructor(
    readonly dataDir: string,
    readonly stored: CatalogIdentity,
    readonly asked: Partial<CatalogIdentity>,
  ) {
    const differs =
      asked.seed !== undefined && asked.seed !== stored.seed
        ? `--seed ${asked.seed}`
        : `--query-count ${String(asked.queryCount)}`;
    super(
      'CATALOG_MISMATCH',
      `${dataDir} holds the database made with seed ${stored.seed} and ${stored.queryCount} queries ` +
        `(${path.join(dataDir, CATALOG_FILE)}); ${differs} would be another database. ` +
        `Start without it to continue this one, give another --data-dir for a separate database, ` +
        `or add --new-catalog to start a new catalog in ${dataDir} (its earlier runs stay, told apart by run_id).`,
    );
  }
}

export interface ChosenCatalog extends CatalogIdentity {
  /** False when the data directory had no catalog (or --new-catalog): `keep()` records this one. */
  reused: boolean;
  /** Writes catalog.json when the catalog is new; call once the system has started. */
  keep(): void;
}

function read(file: string): CatalogFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const v = JSON.parse(text) as Partial<CatalogFile>;
  if (typeof v.seed !== 'string' || typeof v.queryCount !== 'number') {
    throw new SpikeError('CATALOG_FILE_INVALID', `${file} has no seed and queryCount; fix or remove it`);
  }
  return v as CatalogFile;
}

/**
 * The catalog of this start: the data directory's, or a new one (no catalog yet, or
 * `newCatalog`). `seed` or `queryCount` undefined means "not asked for". Throws
 * CatalogMismatchError when one asked for differs from the directory's.
 */
export function chooseCatalog(params: {
  dataDir: string;
  seed: string | undefined;
  queryCount: number | undefined;
  newCatalog: boolean;
}): ChosenCatalog {
  const file = path.join(params.dataDir, CATALOG_FILE);
  const stored = params.newCatalog ? undefined : read(file);
  if (stored) {
    const seedDiffers = params.seed !== undefined && params.seed !== stored.seed;
    const countDiffers = params.queryCount !== undefined && params.queryCount !== stored.queryCount;
    if (seedDiffers || countDiffers) {
      throw new CatalogMismatchError(params.dataDir, stored, { seed: params.seed, queryCount: params.queryCount });
    }
    return { seed: stored.seed, queryCount: stored.queryCount, reused: true, keep: () => undefined };
  }
  const chosen = {
    seed: params.seed ?? randomSeed(),
    queryCount: params.queryCount ?? DEFAULT_SIMULATION.queryCount,
  };
  return {
    ...chosen,
    reused: false,
    keep() {
      mkdirSync(params.dataDir, { recursive: true });
      const content: CatalogFile = { ...chosen, createdAt: new Date().toISOString() };
      writeFileSync(`${file}.tmp`, JSON.stringify(content, null, 2) + '\n');
      renameSync(`${file}.tmp`, file);
    },
  };
}
