/**
 * A fault-injecting TCP proxy for one network link of the chaos run (server → Redis, ingest →
 * ClickHouse, …): the component connects to the proxy's ordinary address as it would to the real
 * service, and the proxy forwards bytes both ways — until the harness cuts the link:
 *
 * - `blackhole`: the connections hang. Existing sockets stay open but nothing is forwarded either
 *   way (bytes are read and dropped, as packets that go nowhere); new connections are accepted and
 *   held the same way. Nothing is refused, so only the component's own timeouts notice.
 * - `reset`: the connections are cut. Existing sockets are destroyed with a RST, new connections
 *   are accepted and reset at once (a refused connection, as a firewall's REJECT with tcp-reset).
 *
 * `heal()` ends the fault: held blackhole sockets are destroyed (their bytes are gone; a real
 * partition that heals leaves such connections to their timeouts, which the component then pays
 * anyway) and new connections are forwarded again.
 */
import net from 'node:net';

export type PartitionMode = 'blackhole' | 'reset';

export class FaultProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  private readonly held = new Set<net.Socket>();
  private mode: PartitionMode | null = null;

  private constructor(
    readonly name: string,
    private readonly server: net.Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on a free port of 127.0.0.1 and forwards to `target`. */
  static async start(name: string, target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FaultProxy(name, server, (server.address() as net.AddressInfo).port, target);
  }

  /** host:port of the proxy (what the component is given). */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get partitioned(): PartitionMode | null {
    return this.mode;
  }

  /** Cuts the link (see the module note for the two modes). */
  partition(mode: PartitionMode): void {
    this.mode = mode;
    for (const p of [...this.pairs]) {
      if (mode === 'reset') {
        p.client.resetAndDestroy();
        p.upstream?.resetAndDestroy();
        this.pairs.delete(p);
      } else {
        // Stop forwarding: the bytes already in flight are dropped from here on.
        p.client.unpipe();
        p.upstream?.unpipe();
        p.upstream?.destroy();
        this.pairs.delete(p);
        this.hold(p.client);
      }
    }
  }

  /** Ends the fault: new connections are forwarded again; sockets held by a blackhole are closed. */
  heal(): void {
    this.mode = null;
    for (const s of this.held) s.resetAndDestroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.heal();
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private hold(socket: net.Socket): void {
    this.held.add(socket);
    socket.removeAllListeners('data');
    socket.on('data', () => undefined); // read and drop: nothing comes back, nothing is refused
    socket.on('error', () => undefined);
    socket.once('close', () => this.held.delete(socket));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'reset') return void client.resetAndDestroy();
    if (this.mode === 'blackhole') return this.hold(client);
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    this.pairs.add(pair);
    client.pause();
    const upstream = net.connect({ ...this.target, noDelay: true });
    pair.upstream = upstream;
    const end = () => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', () => {
      // The service itself is down (Redis restarting): the component sees its connection reset.
      if (this.pairs.has(pair)) client.resetAndDestroy();
      end();
    });
    upstream.once('connect', () => {
      if (!this.pairs.has(pair)) return;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    client.once('close', end);
    upstream.once('close', end);
  }
}
