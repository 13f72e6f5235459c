import { defineConfig } from 'vitest/config';

/**
 * Files whose assertions rest on real time (ticks kept in time, decisions applied before their tick,
 * processes stopped and restarted, timeouts): they run one at a time, after the rest, so another
 * test file's CPU does not make them miss on a two-core machine. Everything else runs two files at a
 * time.
 */
const REAL_TIME = [
  'test/system/chaos.test.ts',
  'test/system/embedded.test.ts',
  'test/system/lifecycle.test.ts',
  'test/system/metrics.test.ts',
  'test/system/pipeline-faults.test.ts',
  'test/system/read-only-limits.test.ts',
  'test/system/redis-cluster.test.ts',
  'test/system/runs.test.ts',
  'test/system/topology.test.ts',
  'test/system/worker-tasks.test.ts',
  'test/scheduler/live/**/*.test.ts',
  'test/server/main.test.ts',
  'test/server/fail-stop.test.ts',
  'test/server/realtime-driver.test.ts',
  'test/server/capture/capture.test.ts',
  'test/server/capture/crash-recovery.test.ts',
  'test/server/capture/redis-outage.test.ts',
  'test/server/capture/volatile-redis.test.ts',
  'test/clickhouse/read-only-pool.test.ts',
  'test/ingest/main.test.ts',
  'test/ingest/worker.test.ts',
];

// Forks, not threads: chDB allows one process per data directory, and some tests stop or kill
// child processes. Each test file gets its own process and its own temporary data directory.
export default defineConfig({
  test: {
    pool: 'forks',
    // A private redis-server for the run when REDIS_URL does not answer (see the file).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: {
      // The one place the suite accepts a volatile Redis: the machine's shared one (127.0.0.1:6379)
      // keeps its data in memory by design, and the relay refuses such a Redis unless allowed.
      // Child processes inherit it; in-process captures read it through the capture settings
      // (test/helpers/shared-redis.ts). Tests of the refusal itself set it to 0.
      ALLOW_VOLATILE_REDIS: '1',
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: REAL_TIME,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'real-time',
          include: REAL_TIME,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
