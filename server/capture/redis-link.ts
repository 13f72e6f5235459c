/**
 * The relay's Redis connection and its observable state. The connection never queues commands in
 * memory while Redis is away (`enableOfflineQueue: false`): a command sent while disconnected fails
 * at once, so the backlog stays in the outbox on disk and memory stays flat. ioredis reconnects in
 * the background with capped exponential backoff; every state change is logged once.
 *
 * With `persistence` set (the relay's link), every new connection first reads Redis's persistence
 * (redis-persistence.ts) and counts as connected only once it is durable, or volatile Redis is
 * allowed: a Redis that came back from a restart with another configuration is caught before the
 * relay sends it anything. A refused Redis is checked again every `recheckMs`, so fixing its
 * configuration (`CONFIG SET appendonly yes`) resumes the relay without a restart; meanwhile the
 * records wait in the outbox on disk.
 */
import { createRedis, isCluster, type RedisClient } from '../../common/redis-client.js';
import type { Logger } from '../../common/logger.js';
import { probePersistence, volatileRedisMessage, type RedisPersistence } from './redis-persistence.js';

/** `verifying`: connected, persistence being read; `refused`: connected, but not durable. */
export type RedisState =
  'connecting' | 'verifying' | 'connected' | 'refused' | 'reconnecting' | 'disconnected' | 'closed';

export interface RedisLinkOptions {
  url: string;
  backoffMinMs: number;
  backoffMaxMs: number;
  logger: Logger;
  /** Shown by `CLIENT LIST`; default `spike-relay`. */
  connectionName?: string;
  /** Check persistence on every connection (see above); unset: no check. */
  persistence?: { allowVolatile: boolean; recheckMs: number; timeoutMs: number };
}

export interface RedisLinkStats {
  state: RedisState;
  /** Epoch ms of the last state change. */
  since: number;
  /** Times the connection became ready after having been lost. */
  reconnects: number;
  lastError: string | null;
  /** What the last persistence check found (null: not checked yet, or no check). */
  persistence: RedisPersistence | null;
}

export class RedisLink {
  readonly client: RedisClient;
  private _state: RedisState = 'connecting';
  private since = Date.now();
  private readyCount = 0;
  private lastError: string | null = null;
  private errorLogged = false;
  private persistence: RedisPersistence | null = null;
  /** The verdict last logged, so a refused Redis checked every few seconds is logged once. */
  private loggedVerdict: string | null = null;
  private recheck: NodeJS.Timeout | undefined;
  /** A persistence check is in flight (a cluster's re-checks must not pile up). */
  private verifying = false;
  private readonly listeners = new Set<(state: RedisState) => void>();

  constructor(private readonly options: RedisLinkOptions) {
    this.client = createRedis(options.url, {
      enableOfflineQueue: false,
      // Nothing waits in the offline queue, so there is nothing to retry; in-flight pipelines are
      // aborted by ioredis when the socket closes and the relay re-sends them.
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(options.backoffMinMs * 2 ** Math.min(times - 1, 20), options.backoffMaxMs),
      connectionName: options.connectionName ?? 'spike-relay',
    });
    this.client.on('ready', () => {
      this.readyCount++;
      this.errorLogged = false;
      if (!options.persistence) this.set('connected');
      else {
        this.set('verifying');
        void this.verify(this.readyCount);
      }
    });
    this.client.on('close', () => {
      clearTimeout(this.recheck);
      this.set('disconnected');
    });
    this.client.on('reconnecting', () => this.set('reconnecting'));
    // A cluster changes under one connection (a replica promoted, a master added): each reload of
    // its slot map (every few seconds, and after every MOVED) reads every master's persistence again.
    if (options.persistence && isCluster(this.client)) {
      this.client.on('refresh', () => {
        if (this._state === 'connected' || this._state === 'refused') void this.verify(this.readyCount, false);
      });
    }
    this.client.on('end', () => this.set('closed'));
    // Without an 'error' listener ioredis prints every failed reconnection attempt; log the first
    // of each outage only, the state change already says Redis is away.
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
      if (!this.errorLogged) this.options.logger.warn({ err: err.message }, 'redis error');
      this.errorLogged = true;
    });
  }

  get state(): RedisState {
    return this._state;
  }

  /** True when commands can be sent (and, with the persistence check, Redis passed it). */
  get ready(): boolean {
    return this.client.status === 'ready' && this._state === 'connected';
  }

  /**
   * Reads the persistence of connection `epoch` and moves to `connected` or `refused`. A check cut
   * short by a lost connection is dropped (the next connection checks again); one that times out
   * resets the connection, as a send that times out does — unless `resetOnFailure` is false (a
   * cluster's re-check after a topology change: the next reload of the slot map checks again).
   */
  private async verify(epoch: number, resetOnFailure = true): Promise<void> {
    const check = this.options.persistence!;
    if (!resetOnFailure && this.verifying) return;
    let found: RedisPersistence;
    this.verifying = true;
    try {
      found = await probePersistence(this.client, check.timeoutMs);
    } catch (error) {
      if (!resetOnFailure || epoch !== this.readyCount || this.client.status !== 'ready') return;
      this.lastError = `persistence check failed: ${(error as Error).message}`;
      this.options.logger.warn({ err: this.lastError }, 'redis persistence check failed; reconnecting');
      this.reset();
      return;
    } finally {
      this.verifying = false;
    }
    if (epoch !== this.readyCount || this.client.status !== 'ready' || this._state === 'closed') return;
    this.persistence = found;
    const log = { redisUrl: this.options.url, persistence: found };
    const first = this.loggedVerdict !== found.detail;
    this.loggedVerdict = found.detail;
    if (found.verdict === 'durable') {
      if (first) this.options.logger.info(log, 'redis is durable');
      this.set('connected');
    } else if (check.allowVolatile) {
      if (first) this.options.logger.warn(log, 'redis is not durable; sending anyway (--allow-volatile-redis)');
      this.set('connected');
    } else {
      this.lastError = volatileRedisMessage(this.options.url, found);
      if (first) this.options.logger.error(log, `relay paused, records stay in the outbox: ${this.lastError}`);
      this.set('refused');
      clearTimeout(this.recheck);
      this.recheck = setTimeout(() => void this.verify(epoch), check.recheckMs);
      this.recheck.unref();
    }
  }

  /** Increments each time the connection becomes ready: objects bound to a connection compare it. */
  get epoch(): number {
    return this.readyCount;
  }

  private set(state: RedisState): void {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.since = Date.now();
    const log = { redis: state, previous, lastError: this.lastError };
    if (state === 'connected') this.options.logger.info(log, 'redis connected');
    else if (state === 'closed') this.options.logger.info(log, 'redis connection closed');
    else if (previous === 'connected') this.options.logger.warn(log, 'redis connection lost');
    else this.options.logger.debug(log, 'redis state');
    for (const listener of this.listeners) listener(state);
  }

  /** Calls `listener` on every state change (the relay wakes up on `connected`). */
  onChange(listener: (state: RedisState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops the socket and reconnects: aborts a send that Redis stopped answering. */
  reset(): void {
    this.client.disconnect(true);
  }

  stats(): RedisLinkStats {
    return {
      state: this._state,
      since: this.since,
      reconnects: Math.max(0, this.readyCount - 1),
      lastError: this.lastError,
      persistence: this.persistence,
    };
  }

  /** Closes the connection: QUIT when connected (bounded wait), otherwise a plain disconnect. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this._state === 'closed') return;
    clearTimeout(this.recheck);
    if (this.client.status === 'ready') {
      const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      await Promise.race([
        this.client.quit().then(
          () => undefined,
          () => undefined,
        ),
        timer,
      ]);
    }
    this.client.disconnect();
    this.set('closed');
  }
}
