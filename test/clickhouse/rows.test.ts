import { describe, expect, it } from 'vitest';
import { InvalidRecordError, toExecutionRow, toWindowRow } from '../../clickhouse/index.js';
import { execution, window } from './helpers.js';

describe('toExecutionRow', () => {
  it('maps camelCase events to snake_case columns', () => {
    const e = execution(5, { delayedBy: 'scheduler', addedDelay: 4, delayCount: 1 });
    expect(toExecutionRow(e)).toEqual({
      execution_id: e.executionId,
      query_id: e.queryId,
      queued_tick: e.queuedTick,
      executed_tick: e.executedTick,
      queued_at: e.queuedAt,
      executed_at: e.executedAt,
      added_delay: 4,
      delay_count: 1,
      delayed_by: 'scheduler',
    });
  });

  it('carries the per-mover split when the record has one, and leaves it to the column default otherwise', () => {
    const split = execution(5, { delayedBy: 'alice', addedDelay: 1203, delayCount: 3 });
    split.addedDelayBy = { scheduler: 3, alice: 1200 };
    expect(toExecutionRow(split).added_delay_by).toEqual({ scheduler: 3, alice: 1200 });
    expect('added_delay_by' in toExecutionRow(execution(5, { delayedBy: 'scheduler', delayCount: 1 }))).toBe(false);
  });

  it('treats a missing delayedBy as null', () => {
    const rest: Partial<ReturnType<typeof execution>> = execution(1);
    delete rest.delayedBy;
    expect(toExecutionRow(rest).delayed_by).toBeNull();
  });

  it.each([
    ['executionId', { executionId: 'nope' }],
    ['queryId', { queryId: 42 }],
    ['delayCount', { delayCount: 70_000 }],
    ['delayCount', { delayCount: -1 }],
    ['addedDelay', { addedDelay: 2 ** 31 }],
    ['queuedTick', { queuedTick: 1.5 }],
    ['executedTick', { executedTick: null }],
    ['executedAt', { executedAt: '2026-01-01' }],
    ['executedTick', { queuedTick: 100, executedTick: 99 }],
    ['delayedBy', { delayedBy: 7 }],
    ['addedDelayBy', { delayCount: 1, addedDelayBy: [3] }],
    ['addedDelayBy', { delayCount: 1, addedDelayBy: { a: 1, b: 2 } }],
    ['addedDelayBy.a', { delayCount: 1, addedDelayBy: { a: 1.5 } }],
    ['addedDelayBy.a', { delayCount: 1, addedDelayBy: { a: 2 ** 31 } }],
    ['type', { type: 'window' }],
  ])('refuses a bad %s', (field, patch) => {
    const bad = { ...execution(1), ...patch } as unknown;
    expect(() => toExecutionRow(bad)).toThrow(InvalidRecordError);
    try {
      toExecutionRow(bad);
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_RECORD', field });
    }
  });

  it('refuses what is not an object', () => {
    for (const v of [null, 'x', 3, [execution(1)]]) expect(() => toExecutionRow(v)).toThrow(InvalidRecordError);
  });
});

describe('toWindowRow', () => {
  it('flattens the three resources', () => {
    const w = window(3);
    expect(toWindowRow(w)).toEqual({
      window_id: w.windowId,
      first_tick: w.firstTick,
      last_tick: w.lastTick,
      samples: 10,
      cpu_avg: 50,
      cpu_min: 30,
      cpu_max: 70,
      io_avg: 40,
      io_min: 20,
      io_max: 90,
      memory_avg: 45,
      memory_min: 45,
      memory_max: 46,
      ts: w.timestamp,
    });
  });

  it.each([
    ['average', { cpu: { average: 1.5, min: 0, max: 2 } }],
    ['io', { io: null }],
    ['min', { memory: { average: 1, min: -1, max: 2 } }],
    ['windowId', { windowId: -1 }],
    ['lastTick', { firstTick: 10, lastTick: 9 }],
    ['timestamp', { timestamp: undefined }],
  ])('refuses a bad %s', (field, patch) => {
    const bad = { ...window(1), ...patch } as unknown;
    expect(() => toWindowRow(bad)).toThrow(expect.objectContaining({ field }) as Error);
  });
});
