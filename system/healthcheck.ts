/**
 * The containers' healthcheck (docker-compose.yml): `node --import tsx system/healthcheck.ts [url…]`.
 * Each argument is an http(s) URL that must answer 2xx, or a redis(s):// URL that must answer PING,
 * within 3 s. Without arguments it checks what the component works with, from the environment it
 * was started with: REDIS_URL (PING), CLICKHOUSE_URL (`/ping`) and SERVER_URL (`/healthz`), the
 * ones that are set. A worker without an endpoint of its own (ingest, analysis, scheduler) is
 * healthy when it can reach them; its own liveness is the container's (it exits when it fails).
 *
 * Exit code 0 when every target answered, 1 otherwise (each failure on stderr).
 */
import { connectOnce } from '../common/redis-connect.js';

const TIMEOUT_MS = 3000;

async function checkHttp(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`answered ${res.status}`);
}

async function checkRedis(url: string): Promise<void> {
  const redis = await connectOnce(url, TIMEOUT_MS);
  try {
    const pong: string = await redis.ping();
    if (pong !== 'PONG') throw new Error(`answered ${pong}`);
  } finally {
    redis.disconnect();
  }
}

function defaultTargets(env: NodeJS.ProcessEnv): string[] {
  const targets: string[] = [];
  if (env.REDIS_URL) targets.push(env.REDIS_URL);
  if (env.CLICKHOUSE_URL) targets.push(new URL('/ping', env.CLICKHOUSE_URL).toString());
  if (env.SERVER_URL) targets.push(new URL('/healthz', env.SERVER_URL).toString());
  return targets;
}

/** Without credentials, for messages. */
function describe(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : defaultTargets(process.env);
if (targets.length === 0) {
  process.stderr.write('healthcheck: nothing to check (no arguments, no REDIS_URL, CLICKHOUSE_URL or SERVER_URL)\n');
  process.exit(1);
}
const results = await Promise.allSettled(targets.map((t) => (/^rediss?:\/\//.test(t) ? checkRedis(t) : checkHttp(t))));
let failed = 0;
results.forEach((r, i) => {
  if (r.status === 'rejected') {
    failed++;
    const e = r.reason as Error & { cause?: { code?: string } };
    const reason = e instanceof Error ? `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}` : String(e);
    process.stderr.write(`healthcheck: ${describe(targets[i]!)}: ${reason}\n`);
  }
});
process.exit(failed === 0 ? 0 : 1);
