import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.js';
import { loadSettings } from '../../common/settings.js';
import { backoffDelay, compileIngestOptions, ingestOptions, ingestSettings } from '../../ingest/index.js';

describe('ingest options', () => {
  it('has documented defaults and compiles them into a complete options object', () => {
    const o = compileIngestOptions(loadSettings(ingestSettings, { env: {} }));
    expect(o).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'spike' },
      batch: { maxSize: 500, flushMs: 200, insertConcurrency: 2 },
      retry: { baseMs: 100, maxMs: 2_000, maxAttempts: 5 },
      worker: {
        concurrency: 1000,
        lockMs: 30_000,
        stalledIntervalMs: 15_000,
        maxStalledCount: 20,
        keepCompleted: 1000,
      },
      shutdownTimeoutMs: 30_000,
      statsIntervalMs: 10_000,
    });
    for (const spec of Object.values(ingestSettings)) expect(spec.doc.length).toBeGreaterThan(10);
  });

  it('reads the environment', () => {
    const env = {
      REDIS_URL: 'redis://redis:6379',
      REDIS_PREFIX: 'run-7',
      INGEST_BATCH_SIZE: '100',
      INGEST_FLUSH_MS: '50',
    };
    const o = compileIngestOptions(loadSettings(ingestSettings, { env }));
    expect(o.redis).toEqual({ url: 'redis://redis:6379', prefix: 'run-7' });
    expect(o.batch).toMatchObject({ maxSize: 100, flushMs: 50 });
  });

  it('refuses bad values with a ConfigError naming the setting', () => {
    expect(() => loadSettings(ingestSettings, { env: { INGEST_BATCH_SIZE: '0' } })).toThrow(ConfigError);
    expect(() => loadSettings(ingestSettings, { env: { REDIS_URL: 'localhost:6379' } })).toThrow(/REDIS_URL/);
    expect(() => loadSettings(ingestSettings, { env: { REDIS_PREFIX: 'a:b' } })).toThrow(/REDIS_PREFIX/);
    expect(() => ingestOptions({ retryBaseMs: 500, retryMaxMs: 100 })).toThrow(/retryMaxMs/);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base, caps at the maximum, with ±25 % jitter', () => {
    const o = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, o, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(1, o, () => 0)).toBe(75);
    expect(backoffDelay(1, o, () => 1)).toBe(125);
  });
});
