import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.js';
import { loadSettings } from '../../../common/settings.js';
import { captureSettings, compileCaptureOptions, DEFAULT_CAPTURE } from '../../../server/capture/options.js';

describe('capture options', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_CAPTURE).toMatchObject({
      outboxDir: './data/outbox',
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'spike',
      batchSize: 1000,
      addBulkSize: 250,
      concurrency: 2,
    });
    expect(Object.values(DEFAULT_CAPTURE).every((v) => v !== undefined)).toBe(true);
  });

  it('reads the environment, flags first', () => {
    const v = loadSettings(captureSettings, {
      env: {
        REDIS_URL: 'redis://redis:6379',
        REDIS_PREFIX: 'run-7',
        OUTBOX_DIR: '/var/outbox',
        RELAY_BATCH_SIZE: '3000',
      },
      flags: { relayBatchSize: '4000' },
    });
    expect(compileCaptureOptions(v)).toMatchObject({
      redisUrl: 'redis://redis:6379',
      prefix: 'run-7',
      outboxDir: '/var/outbox',
      batchSize: 4000,
    });
  });

  it('rejects bad values with the setting, its source and the rule', () => {
    expect(() => loadSettings(captureSettings, { env: { REDIS_URL: 'http://x' } })).toThrow(/REDIS_URL.*redis:\/\//);
    expect(() => loadSettings(captureSettings, { env: { REDIS_PREFIX: 'a:b' } })).toThrow(ConfigError);
    expect(() => loadSettings(captureSettings, { env: { RELAY_BATCH_SIZE: '0' } })).toThrow(ConfigError);
    const v = loadSettings(captureSettings, { env: { RELAY_BACKOFF_MIN_MS: '5000', RELAY_BACKOFF_MAX_MS: '100' } });
    expect(() => compileCaptureOptions(v)).toThrow(/backoffMinMs/);
  });
});
