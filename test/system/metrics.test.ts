/**
 * GET /metrics of a running `npm start` system (chDB in a temporary directory, the shared Redis under
 * a fresh prefix, the scheduler on), scraped twice a few seconds apart and parsed as Prometheus text
 * with a parser of its own (parse-prometheus-text-format): the product's metrics are there with
 * their types, and they move as the system runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { startEmbedded, type EmbeddedSystem } from '../../system/embedded.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { embeddedTestEnv } from './helpers/embedded-env.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
const prefix = `test-metrics-${Date.now()}`;
let system: EmbeddedSystem;

beforeAll(async () => {
  const settings = loadEmbeddedSettings({
    env: embeddedTestEnv(dir, prefix, {
      SIM_SEED: 'metrics',
      SIM_PROBABILITY_SCALE: '5',
      ANALYSIS_INTERVAL_MS: '3000',
      ANALYSIS_SETTLE_MS: '500',
    }),
  });
  system = await startEmbedded(compileEmbeddedOptions(settings, REDIS_URL), silentLogger);
  await waitFor(() => (system.scheduler()?.figures().decisions ?? 0) > 0, 30_000, 'the scheduler deciding');
}, 60_000);

afterAll(async () => {
  await system?.close();
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`${system.server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
}

/** The sum of a counter's or gauge's samples (over their labels), or of a histogram's counts. */
function total(families: Map<string, ParsedFamily>, name: string): number {
  const family = families.get(name);
  expect(family, name).toBeDefined();
  return family!.metrics.reduce((sum, m) => sum + Number(m.value ?? m.count), 0);
}

describe('GET /metrics of npm start', () => {
  it('has the product’s metrics with their types, and Node’s process metrics', async () => {
    const m = await scrape();
    const types = Object.fromEntries([...m.values()].map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      spike_executions_total: 'COUNTER',
      spike_capture_outbox_records: 'GAUGE',
      spike_scheduler_decisions_total: 'COUNTER',
      spike_scheduler_decision_latency_seconds: 'HISTOGRAM',
      spike_window_in_band_ratio: 'GAUGE',
      spike_windows_total: 'COUNTER',
      spike_ingest_lag_seconds: 'GAUGE',
      spike_ingest_stored_total: 'COUNTER',
      spike_analysis_runs_total: 'COUNTER',
      process_cpu_user_seconds_total: 'COUNTER',
      process_resident_memory_bytes: 'GAUGE',
      nodejs_eventloop_lag_seconds: 'GAUGE',
      nodejs_heap_size_used_bytes: 'GAUGE',
    });
    const outcomes = m
      .get('spike_scheduler_decisions_total')!
      .metrics.map((s) => s.labels?.outcome)
      .sort();
    expect(outcomes).toEqual(['contested', 'failed', 'hit', 'late', 'notQueued', 'refused', 'stale']);
    const ratio = total(m, 'spike_window_in_band_ratio');
    expect(ratio).toBeGreaterThanOrEqual(0);
    expect(ratio).toBeLessThanOrEqual(1);
    expect(total(m, 'spike_capture_outbox_records')).toBeGreaterThanOrEqual(0);
  });

  it('moves as the system runs: executions, windows, decisions and their latencies, stored records, ingest lag', async () => {
    const before = await scrape();
    await new Promise((r) => setTimeout(r, 3000));
    const after = await scrape();
    for (const name of [
      'spike_executions_total',
      'spike_windows_total',
      'spike_scheduler_decisions_total',
      'spike_scheduler_decision_latency_seconds',
      'spike_ingest_stored_total',
    ]) {
      expect(total(after, name), name).toBeGreaterThan(total(before, name));
    }
    // Stored within seconds of running: the ingest lag is the age of the newest stored execution.
    const lag = total(after, 'spike_ingest_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(10);
    // Every decision latency is in a bucket: the +Inf bucket holds them all.
    const histogram = after.get('spike_scheduler_decision_latency_seconds')!.metrics[0]!;
    expect(Number(histogram.buckets!['+Inf'])).toBe(Number(histogram.count));
  });
});
