/**
 * A local Redis Cluster for tests: `masters` masters and one replica each, every node a
 * `redis-server --cluster-enabled yes` on a free port of 127.0.0.1 with append-only persistence in a
 * temporary directory (the product's own `RedisServer`), joined by `redis-cli --cluster create`.
 * `failover(key)` makes the replica of the master that holds `key`'s slot take over with
 * `CLUSTER FAILOVER` (the graceful, manual failover: the master stops taking writes, the replica
 * catches up with its replication offset, then is promoted). `destroy()` kills every node.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { RedisServer } from '../../system/private-redis.js';

const run = promisify(execFile);

interface NodeLine {
  id: string;
  port: number;
  role: 'master' | 'slave';
  masterId: string;
  slots: [number, number][];
}

export class TestRedisCluster {
  private constructor(
    readonly dir: string,
    readonly servers: RedisServer[],
  ) {}

  static async start(masters = 3): Promise<TestRedisCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'test-redis-cluster-'));
    const servers: RedisServer[] = [];
    const cluster = new TestRedisCluster(dir, servers);
    try {
      for (let i = 0; i < masters * 2; i++) {
        const nodeDir = path.join(dir, `node-${i}`);
        servers.push(
          await RedisServer.start({
            dir: nodeDir,
            persistence: 'aof',
            extraArgs: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              path.join(nodeDir, 'nodes.conf'),
              '--cluster-node-timeout',
              '3000',
            ],
          }),
        );
      }
      const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes']);
      await cluster.waitUntil(
        async () => {
          const infos = await Promise.all(servers.map((s) => cluster.command(s.port, 'CLUSTER', 'INFO')));
          const nodes = await cluster.nodes();
          return (
            infos.every((i) => String(i).includes('cluster_state:ok')) &&
            nodes.filter((n) => n.role === 'slave').length === masters
          );
        },
        20_000,
        'the cluster to be ok with a replica per master',
      );
      return cluster;
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  /** `redis+cluster://` with the masters' addresses as seeds, as a user writes REDIS_URL. */
  get url(): string {
    return `redis+cluster://${this.servers
      .slice(0, this.servers.length / 2)
      .map((s) => `127.0.0.1:${s.port}`)
      .join(',')}`;
  }

  /** One command on the node at `port`, on a connection of its own. */
  async command(port: number, ...args: string[]): Promise<unknown> {
    const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await redis.connect();
      return await redis.call(args[0]!, ...args.slice(1));
    } finally {
      redis.disconnect();
    }
  }

  /** `CLUSTER NODES` as the node at `port` (default: the first running one) sees it. */
  async nodes(port = this.servers.find((s) => s.running)!.port): Promise<NodeLine[]> {
    const text = String(await this.command(port, 'CLUSTER', 'NODES'));
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
        return {
          id: id!,
          port: Number(/:(\d+)@/.exec(address!)![1]),
          role: flags!.includes('master') ? ('master' as const) : ('slave' as const),
          masterId: masterId!,
          slots: slots
            .filter((s) => /^\d+(-\d+)?$/.test(s))
            .map((s) => {
              const [a, b] = s.split('-').map(Number);
              return [a!, b ?? a!] as [number, number];
            }),
        };
      });
  }

  /** The port of the master serving `key`'s slot, and of its replica. */
  async holderOf(key: string): Promise<{ master: number; replica: number; slot: number }> {
    const slot = Number(await this.command(this.servers[0]!.port, 'CLUSTER', 'KEYSLOT', key));
    const nodes = await this.nodes();
    const master = masterOf(nodes, slot);
    const replica = master && nodes.find((n) => n.role === 'slave' && n.masterId === master.id);
    if (!master || !replica) throw new Error(`no master with a replica serves slot ${slot}`);
    return { master: master.port, replica: replica.port, slot };
  }

  /**
   * `CLUSTER FAILOVER` on the replica of `key`'s master; resolves once every node agrees the
   * replica is the slot's master. Returns the ports and how long the switch took.
   */
  async failover(key: string): Promise<{ oldMaster: number; newMaster: number; ms: number }> {
    const { master, replica } = await this.holderOf(key);
    const started = Date.now();
    await this.command(replica, 'CLUSTER', 'FAILOVER');
    await this.waitUntil(
      async () => {
        const views = await Promise.all(
          this.servers.map(async (s) => (await this.holderOfOn(s.port, key)) === replica),
        );
        return views.every(Boolean);
      },
      15_000,
      `port ${replica} to become the master of ${key}`,
    );
    return { oldMaster: master, newMaster: replica, ms: Date.now() - started };
  }

  private async holderOfOn(port: number, key: string): Promise<number | undefined> {
    const slot = Number(await this.command(port, 'CLUSTER', 'KEYSLOT', key));
    return masterOf(await this.nodes(port), slot)?.port;
  }

  private async waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills every node and removes the directory. */
  async destroy(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function masterOf(nodes: NodeLine[], slot: number): NodeLine | undefined {
  return nodes.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
}
