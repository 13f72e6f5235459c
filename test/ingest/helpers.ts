/** Test helpers for the ingest workers: a random key prefix on the shared Redis, producers, cleanup. */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { ClickHouseStore, migrate, type RowSink } from '../../clickhouse/index.js';
import { ingestOptions, startIngest, type IngestHandle, type IngestSettingValues } from '../../ingest/index.js';
import { openTempClickHouse, type TempClickHouse } from '../clickhouse/helpers.js';
import {
  QUEUE_DEAD_LETTER,
  QUEUE_EXECUTIONS,
  QUEUE_METRICS,
  executionJobId,
  windowJobId,
} from '../../common/contracts.js';
import type { DeadLetterJobData, ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

export { REDIS_URL, waitFor };

/** Producers for one test, under a fresh prefix; `cleanup` removes every key of that prefix. */
export class TestQueues {
  readonly prefix = `test-${randomUUID()}`;
  readonly connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  readonly executions = new Queue<ExecutedEvent>(QUEUE_EXECUTIONS, {
    connection: this.connection,
    prefix: this.prefix,
  });
  readonly metrics = new Queue<WindowEvent>(QUEUE_METRICS, { connection: this.connection, prefix: this.prefix });
  readonly deadLetter = new Queue<DeadLetterJobData>(QUEUE_DEAD_LETTER, {
    connection: this.connection,
    prefix: this.prefix,
  });

  /** As the server's relay does: job id = execution id, bulk adds. */
  async addExecutions(events: ExecutedEvent[], jobId: (e: ExecutedEvent) => string = executionJobId): Promise<void> {
    for (let i = 0; i < events.length; i += 1000) {
      await this.executions.addBulk(
        events.slice(i, i + 1000).map((e) => ({ name: 'execution', data: e, opts: { jobId: jobId(e) } })),
      );
    }
  }

  async addWindows(windows: WindowEvent[]): Promise<void> {
    await this.metrics.addBulk(windows.map((w) => ({ name: 'window', data: w, opts: { jobId: windowJobId(w) } })));
  }

  async counts(queue: Queue = this.executions): Promise<Record<string, number>> {
    return queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  }

  async cleanup(): Promise<void> {
    for (const q of [this.executions, this.metrics, this.deadLetter]) {
      await q.obliterate({ force: true });
      await q.close();
    }
    // Anything BullMQ left outside the queues (e.g. a worker's stalled-check key).
    await removePrefixAndQuit(this.connection, this.prefix);
  }
}

export interface IngestFixture {
  readonly ch: TempClickHouse;
  /** The store of the fixture's database. */
  readonly store: ClickHouseStore;
  /** This test's producers, under a fresh prefix. */
  readonly queues: TestQueues;
  /** Starts an ingest on this test's prefix and the fixture's database; closed after the test. */
  start(overrides?: Partial<IngestSettingValues>, params?: { logger?: Logger; sink?: RowSink }): IngestHandle;
  /** Runs a statement as the operator would (ALTER TABLE …). */
  sql(query: string): Promise<void>;
}

/**
 * Registers the hooks of a test file that runs ingests against a real chDB (one temporary directory
 * per file, migrated into `database`) and the shared Redis (a fresh prefix per test).
 */
export function useIngestFixture(database: string): IngestFixture {
  let ch: TempClickHouse;
  let store: ClickHouseStore;
  let queues: TestQueues;
  const started: IngestHandle[] = [];
  beforeAll(async () => {
    ch = openTempClickHouse();
    await migrate(ch.client, { database });
    store = new ClickHouseStore(ch.client, { database });
  });
  afterAll(async () => ch.close());
  beforeEach(() => {
    queues = new TestQueues();
  });
  afterEach(async () => {
    for (const ingest of started.splice(0)) await ingest.close({ timeoutMs: 2000 });
    await queues.cleanup();
  });
  return {
    get ch() {
      return ch;
    },
    get store() {
      return store;
    },
    get queues() {
      return queues;
    },
    start(overrides = {}, params = {}) {
      const options = ingestOptions({
        redisUrl: REDIS_URL,
        prefix: queues.prefix,
        statsIntervalMs: 0,
        flushMs: 20,
        retryBaseMs: 20,
        retryMaxMs: 200,
        ...overrides,
      });
      const logger = params.logger ?? pino({ level: 'silent' });
      const ingest = startIngest({
        clickhouse: ch.client,
        database,
        options,
        logger,
        ...(params.sink ? { sink: params.sink } : {}),
      });
      started.push(ingest);
      return ingest;
    },
    async sql(query) {
      await ch.client.command({ query });
    },
  };
}
