/**
 * Reads the queued-events stream through the scheduler's consumer group. The group remembers what
 * was delivered, so a restarted scheduler continues where the stream is; what it missed while down
 * is covered by the rebuild from `GET /queued`, so entries left pending by a killed consumer are
 * acknowledged unread at start rather than replayed late.
 */
import { createRedis, type RedisClient } from '../common/redis-client.js';
import { queuedStreamKey, SCHEDULER_GROUP, STREAM_FIELD, type QueuedStreamEntry } from '../common/contracts.js';

export interface StreamEntry {
  id: string;
  entry: QueuedStreamEntry | null;
}

type Entries = [string, string[] | null][];
/** `[[key, entries]]` in RESP2; some server/client versions answer a one-stream read as `[key, entries]`. */
type ReadReply = [string, Entries][] | [string, Entries] | null;

export class QueuedReader {
  readonly key: string;
  private readonly redis: RedisClient;

  constructor(
    redisUrl: string,
    prefix: string,
    private readonly consumer: string,
  ) {
    this.key = queuedStreamKey(prefix);
    // A blocking read holds its connection, so the reader has its own. No offline queue: while
    // Redis is away a read fails at once and the service retries (and resyncs) on its own terms.
    this.redis = createRedis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1000),
      connectionName: 'spike-scheduler-reader',
    });
    this.redis.on('error', () => undefined); // state is observed through failed reads
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Creates the group at the stream's end (and the stream) unless it exists. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.key, SCHEDULER_GROUP, '$', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Acknowledges whatever an earlier run of this consumer left pending; returns how many. */
  async dropPending(): Promise<number> {
    let dropped = 0;
    for (;;) {
      const entries = await this.read('0', 1000, undefined);
      if (entries.length === 0) return dropped;
      await this.ack(entries.map((e) => e.id));
      dropped += entries.length;
    }
  }

  /** New entries, waiting up to `blockMs` for the first. */
  next(count: number, blockMs: number): Promise<StreamEntry[]> {
    return this.read('>', count, blockMs);
  }

  async ack(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.key, SCHEDULER_GROUP, ...ids);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await Promise.resolve();
  }

  private async read(from: string, count: number, blockMs: number | undefined): Promise<StreamEntry[]> {
    const args: (string | number)[] = ['GROUP', SCHEDULER_GROUP, this.consumer, 'COUNT', count];
    if (blockMs !== undefined) args.push('BLOCK', blockMs);
    args.push('STREAMS', this.key, from);
    let reply: ReadReply;
    try {
      reply = (await this.redis.call('XREADGROUP', ...args)) as ReadReply;
    } catch (error) {
      // The stream or the group is gone (Redis restarted without them): recreate, read again later.
      if (String(error).includes('NOGROUP')) await this.ensureGroup();
      throw error;
    }
    if (!reply) return [];
    const streams = (typeof reply[0] === 'string' ? [reply] : reply) as [string, Entries][];
    const out: StreamEntry[] = [];
    for (const [, entries] of streams) {
      for (const [id, fields] of entries ?? []) out.push({ id, entry: parseEntry(fields) });
    }
    return out;
  }
}

function parseEntry(fields: string[] | null): QueuedStreamEntry | null {
  if (!fields) return null;
  const i = fields.indexOf(STREAM_FIELD);
  if (i < 0 || i + 1 >= fields.length) return null;
  try {
    const e = JSON.parse(fields[i + 1]!) as QueuedStreamEntry;
    return e && (e.type === 'queued' || e.type === 'delayed' || e.type === 'tick-end') ? e : null;
  } catch {
    return null;
  }
}
