/**
 * How the chaos run injects each fault (schedule.ts) and measures the recovery: when the fault
 * ended (the process started again, the link healed, Redis back, inserts working), and how long
 * after that every component the fault affected answered healthy again (`healthyAfterMs`).
 *
 * Healthy means: the server's and ingest's `GET /healthz` say ok (not degraded, not failed); the
 * scheduler published its figures to Redis since the fault ended (read through the server's
 * `/stats`); the analysis process is up. A partitioned component must also reach its service again
 * through the link (a probe through the link's proxy gets an answer).
 */
import net from 'node:net';
import { FAULT_PATH } from '../../clickhouse/http-gateway.js';
import type { Logger } from '../../common/logger.js';
import type { RedisServer } from '../private-redis.js';
import type { FaultProxy } from './fault-proxy.js';
import { linkClient, LINKS, type Link } from './links.js';
import type { OutboxDisk } from './outbox-disk.js';
import { conflicting, type FaultKind, type PlannedFault } from './schedule.js';
import type { Supervisor } from './supervisor.js';

export type Component = 'server' | 'ingest' | 'scheduler' | 'analysis';

export interface Injectors {
  supervisor: Supervisor;
  redis: RedisServer;
  gatewayUrl: string;
  apiUrl: string;
  ingestHealthUrl: string;
  proxies: Record<Link, FaultProxy>;
  disk: OutboxDisk;
  /** Called just before the scheduler process is killed (its figures so far are final). */
  schedulerEnds: () => void;
  logger: Logger;
}

export interface FaultOutcome {
  /** When the fault ended (epoch ms). */
  endedAt: number;
  /** Ms from the injection to the end of the fault. */
  recoveredAfterMs: number;
  /** Ms from the end of the fault until every affected component was healthy; null: never within the timeout. */
  healthyAfterMs: number | null;
  /** The same per affected component (and `link <name>` for a partition's link). */
  healthyAfterMsOf: Record<string, number | null>;
}

const HEALTH_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function answersOk(url: string, check: (body: Record<string, unknown>) => boolean): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok && check((await res.json()) as Record<string, unknown>);
  } catch {
    return false;
  }
}

/** A request through the link's proxy gets some answer within a second (Redis PING, HTTP GET). */
function linkAnswers(link: Link, proxy: FaultProxy): Promise<boolean> {
  const request = link.endsWith('-redis') ? 'PING\r\n' : 'GET /ping HTTP/1.0\r\n\r\n';
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', () => done(true));
    socket.once('connect', () => socket.write(request));
  });
}

function affectedBy(kind: FaultKind): { components: Component[]; link?: Link } {
  if (kind.startsWith('partition-')) {
    const link = kind.slice('partition-'.length) as Link;
    return { components: [linkClient(link)], link };
  }
  switch (kind) {
    case 'kill-ingest':
    case 'clickhouse-insert-failures':
      return { components: ['ingest'] };
    case 'kill-scheduler':
      return { components: ['scheduler'] };
    case 'kill-analysis':
      return { components: ['analysis'] };
    case 'restart-redis':
      return { components: ['server', 'ingest', 'scheduler'] };
    default:
      return { components: ['server'] };
  }
}

export class FaultInjector {
  /** Faults of one conflict group run one after another (schedule.ts `conflicting`). */
  private readonly groups = new Map<string, Promise<void>>();

  constructor(private readonly x: Injectors) {}

  private async healthy(c: Component, since: number): Promise<boolean> {
    const x = this.x;
    switch (c) {
      case 'server':
        return answersOk(`${x.apiUrl}/healthz`, (b) => b.status === 'ok');
      case 'ingest':
        return answersOk(`${x.ingestHealthUrl}/healthz`, (b) => b.status === 'ok');
      case 'scheduler':
        return answersOk(`${x.apiUrl}/stats`, (b) => {
          const s = b.scheduler as { updatedAt?: number } | null | undefined;
          return typeof s?.updatedAt === 'number' && s.updatedAt > since && !!x.supervisor.get('scheduler')?.alive;
        });
      case 'analysis':
        return !!x.supervisor.get('analysis')?.alive;
    }
  }

  /**
   * Polls until every affected component (and the link) is healthy; per component the ms after
   * `since` it first was, null for one that was not within the timeout.
   */
  private async healthyAfter(
    components: Component[],
    link: Link | undefined,
    since: number,
  ): Promise<Record<string, number | null>> {
    const names: string[] = [...components, ...(link ? [`link ${link}`] : [])];
    const at: Record<string, number | null> = Object.fromEntries(names.map((n) => [n, null]));
    while (Date.now() - since < HEALTH_TIMEOUT_MS && names.some((n) => at[n] === null)) {
      await Promise.all(
        names.map(async (n, i) => {
          if (at[n] !== null) return;
          const ok =
            i < components.length
              ? await this.healthy(components[i]!, since)
              : await linkAnswers(link!, this.x.proxies[link!]);
          if (ok) at[n] = Date.now() - since;
        }),
      );
      await sleep(50);
    }
    return at;
  }

  /** Starts `name` again, retrying while a start is refused (a server start while Redis is not back). */
  private async restart(name: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.x.supervisor.start(name, 60_000, { expectFailure: true });
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        this.x.logger.warn({ name, attempt, err: String(err) }, 'chaos: a restart was refused; retrying');
        await sleep(500);
      }
    }
  }

  /** Injects one fault and resolves once it is over and its components are healthy again. */
  async inject(f: PlannedFault): Promise<FaultOutcome> {
    const group = conflicting(f.kind).join(',');
    const before = this.groups.get(group) ?? Promise.resolve();
    let release = () => {};
    this.groups.set(group, new Promise<void>((r) => (release = r)));
    await before;
    try {
      const t0 = Date.now();
      const endedAt = await this.run(f);
      const { components, link } = affectedBy(f.kind);
      const each = await this.healthyAfter(components, link, endedAt);
      const times = Object.values(each);
      const healthyAfterMs = times.includes(null) ? null : Math.max(...(times as number[]));
      return { endedAt, recoveredAfterMs: endedAt - t0, healthyAfterMs, healthyAfterMsOf: each };
    } finally {
      release();
    }
  }

  /** The fault itself; resolves with the moment it ended. */
  private async run(f: PlannedFault): Promise<number> {
    const x = this.x;
    const kill = /^kill-(ingest|scheduler|analysis|server)$/.exec(f.kind)?.[1];
    if (kill) {
      if (kill === 'scheduler') x.schedulerEnds();
      await x.supervisor.kill(kill, 'SIGKILL');
      await sleep(f.durationMs);
      const end = Date.now();
      await this.restart(kill);
      return end;
    }
    if (f.kind === 'restart-redis') {
      if (f.variant === 'SIGKILL') await x.redis.kill();
      else await x.redis.stop();
      await sleep(f.durationMs);
      await x.redis.restart();
      return Date.now();
    }
    if (f.kind === 'clickhouse-insert-failures') {
      const res = await fetch(`${x.gatewayUrl}${FAULT_PATH}?ms=${f.durationMs}&mode=${f.variant}`, {
        method: 'POST',
        signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw new Error(`the gateway refused the fault: ${res.status} ${await res.text()}`);
      await sleep(f.durationMs);
      return Date.now();
    }
    if (f.kind === 'disk-full') {
      // The server fail-stops on its next outbox or ledger write: an exit asked for by the fault.
      const server = x.supervisor.expectExit('server');
      x.disk.fill();
      const exited = await Promise.race([server?.exited().then(() => true), sleep(15_000).then(() => false)]);
      if (!exited) throw new Error('the server did not stop on the full disk within 15 s');
      await sleep(f.durationMs);
      x.disk.free();
      const end = Date.now();
      await this.restart('server');
      return end;
    }
    const link = f.kind.slice('partition-'.length) as Link;
    if (!LINKS.includes(link)) throw new Error(`unknown fault kind ${f.kind}`);
    x.proxies[link].partition(f.variant === 'blackhole' ? 'blackhole' : 'reset');
    await sleep(f.durationMs);
    x.proxies[link].heal();
    return Date.now();
  }
}
