import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../common/contracts.js';
import { InvalidRecordError, toExecutionRow, toRunRow, toWindowRow } from '../../clickhouse/index.js';
import { execution, window } from './helpers.js';

const start: RunEvent = {
  type: 'run',
  runId: '20261203T141502Z-3f9a1c',
  startedAt: Date.UTC(2026, 11, 3, 14, 15, 2),
  endedAt: null,
  firstTick: 17_963_077_854,
  lastTick: null,
  seed: 'a1b2',
  queryCount: 100,
  probabilityScale: 1.5,
  tickMs: 100,
  metricsWindowTicks: 10,
  scheduler: 'on',
  schedulerStartedAt: Date.UTC(2026, 11, 3, 14, 16, 2),
  parameters: { simulation: { seed: 'a1b2' } },
};

describe('run ids on executions and windows', () => {
  it('carries the run id when the record has one, and leaves the column default otherwise', () => {
    expect(toExecutionRow({ ...execution(3), runId: start.runId }).run_id).toBe(start.runId);
    expect(toWindowRow({ ...window(3), runId: start.runId }).run_id).toBe(start.runId);
    expect('run_id' in toExecutionRow(execution(3))).toBe(false);
    expect('run_id' in toWindowRow(window(3))).toBe(false);
  });

  it.each(['', 'has space', 'x'.repeat(65), 42])('refuses run id %j naming the field', (runId) => {
    expect(() => toExecutionRow({ ...execution(3), runId })).toThrow(InvalidRecordError);
    expect(() => toWindowRow({ ...window(3), runId })).toThrow(/runId/);
  });
});

describe('toRunRow', () => {
  it('maps the start record to version 0 and the end record to version 1', () => {
    expect(toRunRow(start)).toEqual({
      run_id: start.runId,
      started_at: start.startedAt,
      ended_at: null,
      first_tick: start.firstTick,
      last_tick: null,
      seed: 'a1b2',
      query_count: 100,
      probability_scale: 1.5,
      tick_ms: 100,
      metrics_window_ticks: 10,
      scheduler: 'on',
      scheduler_started_at: start.schedulerStartedAt,
      parameters: '{"simulation":{"seed":"a1b2"}}',
      version: 0,
    });
    const end = toRunRow({ ...start, endedAt: start.startedAt + 60_000, lastTick: start.firstTick + 599 });
    expect(end).toMatchObject({ version: 1, ended_at: start.startedAt + 60_000, last_tick: start.firstTick + 599 });
  });

  it.each([
    ['runId', { runId: '' }],
    ['seed', { seed: '' }],
    ['probabilityScale', { probabilityScale: -1 }],
    ['scheduler', { scheduler: 'sometimes' }],
    ['tickMs', { tickMs: 0 }],
    ['endedAt', { endedAt: Date.UTC(2026, 0, 1) }],
    ['type', { type: 'window' }],
  ])('refuses a bad %s', (field, change) => {
    expect(() => toRunRow({ ...start, ...change })).toThrow(new RegExp(field));
  });
});
