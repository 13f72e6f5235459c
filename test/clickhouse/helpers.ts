/** Test helpers for the ClickHouse layer: a real chDB in a temporary directory, and sample events. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import {
  createClickHouse,
  openReadOnlyPool,
  readOnlyOptions,
  type ClickHouseClient,
  type ReadOnlyPool,
} from '../../clickhouse/index.js';
import { silentLogger } from '../../common/logger.js';

export interface TempClickHouse {
  client: ClickHouseClient;
  dataPath: string;
  /** Closes the client (releasing this process's chDB engine) and deletes the directory. */
  close(): Promise<void>;
}

/**
 * chDB binds one data directory per process, so each test file opens exactly one of these in
 * `beforeAll` and closes it in `afterAll` (vitest runs every file in its own forked process).
 */
export function openTempClickHouse(): TempClickHouse {
  const dataPath = mkdtempSync(join(tmpdir(), 'spike-ch-test-'));
  const client = createClickHouse({ kind: 'embedded', dataPath });
  return {
    client,
    dataPath,
    async close() {
      await client.close();
      rmSync(dataPath, { recursive: true, force: true });
    },
  };
}

/**
 * The read-only path over a temporary ClickHouse, as `npm run sql`, the HTTP interface and the
 * reports open it: sessions of its own, the guard, `readonly = 1` and the default limits.
 */
export function openTestReader(ch: TempClickHouse): Promise<ReadOnlyPool> {
  return openReadOnlyPool({
    target: { kind: 'embedded', dataPath: ch.dataPath },
    options: readOnlyOptions(),
    logger: silentLogger,
  });
}

/** A wall-clock-like absolute tick (~1.8e13, as the real-time server uses). */
export const BASE_TICK = 17_640_000_000_000;
export const BASE_TIME = Date.UTC(2026, 0, 1);

export function execution(i: number, overrides: Partial<ExecutedEvent> = {}): ExecutedEvent {
  const executedTick = BASE_TICK + i;
  return {
    type: 'executed',
    executionId: randomUUID(),
    queryId: randomUUID(),
    queuedTick: executedTick - 1,
    executedTick,
    addedDelay: 0,
    delayCount: 0,
    delayedBy: null,
    queuedAt: BASE_TIME + (i - 1) * 100,
    executedAt: BASE_TIME + i * 100,
    ...overrides,
  };
}

export function executions(from: number, count: number): ExecutedEvent[] {
  return Array.from({ length: count }, (_, k) => execution(from + k));
}

/** Window `w` of 10 ticks starting at BASE_TICK. */
export function window(w: number, overrides: Partial<WindowEvent> = {}): WindowEvent {
  const firstTick = BASE_TICK + w * 10;
  return {
    type: 'window',
    windowId: firstTick / 10,
    firstTick,
    lastTick: firstTick + 9,
    samples: 10,
    cpu: { average: 50, min: 30, max: 70 },
    io: { average: 40, min: 20, max: 90 },
    memory: { average: 45, min: 45, max: 46 },
    timestamp: BASE_TIME + (w * 10 + 9) * 100,
    ...overrides,
  };
}
