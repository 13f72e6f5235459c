/**
 * The exclusive lock of an estimation run, across every instance that shares the Redis prefix:
 * `SET key token NX PX ttl`, renewed every ttl/3 while the run goes on, released (compare-and-
 * delete) when it ends. A killed instance's lock expires after `ttl`, so the next run is delayed at
 * most that long. The token makes renew and release touch only our own lock.
 *
 * Before committing, a run checks that it still holds the lock (`assertHeld`): a run that lost it
 * (its process paused past the ttl, or renewals failed while Redis was away) must not commit, since
 * another instance may have taken over. A pause between that check and the commit can still let two
 * versions be written; that is harmless here (each version is complete, and the larger wins).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../common/redis-client.js';
import type { Logger } from '../common/logger.js';
import { LockLostError } from './errors.js';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface HeldLock {
  readonly token: string;
  /** True once a renewal found the lock gone or taken. */
  readonly lost: boolean;
  /** Throws LockLostError unless the lock is still ours, now. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

export class RedisLock {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** The lock, or null when another holder has it. */
  async acquire(): Promise<HeldLock | null> {
    const token = randomUUID();
    const ok = await this.redis.set(this.key, token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    let lost = false;
    const renew = async () => {
      try {
        const renewed = await this.redis.eval(RENEW, 1, this.key, token, String(this.ttlMs));
        if (Number(renewed) !== 1) lost = true;
      } catch (err) {
        // Redis away: keep trying; the commit-time check decides.
        this.logger.warn({ err: String(err), key: this.key }, 'analysis lock renewal failed');
      }
    };
    const timer = setInterval(() => void renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
    timer.unref();
    const key = this.key;
    const redis = this.redis;
    return {
      token,
      get lost() {
        return lost;
      },
      async assertHeld() {
        if (lost || (await redis.get(key)) !== token) {
          lost = true;
          throw new LockLostError(key);
        }
      },
      async release() {
        clearInterval(timer);
        await redis.eval(RELEASE, 1, key, token);
      },
    };
  }
}
