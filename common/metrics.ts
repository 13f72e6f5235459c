/**
 * Prometheus metrics for machines (`GET /metrics`, Prometheus text format), beside `GET /stats`,
 * which stays for people. One prom-client registry per process, with Node's process metrics
 * (CPU, memory, event-loop lag, GC, handles); each component registers its own metrics on it
 * (server/metrics.ts, ingest/metrics.ts, scheduler/metrics.ts, analysis/metrics.ts), most of them
 * read from the component's existing counters when Prometheus scrapes, so the hot paths are
 * untouched. A component that has an HTTP port serves `/metrics` there (the API, the ingest health
 * port); one without (scheduler, analysis) serves it on `--metrics-port` (startMetricsEndpoint).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { integer, text } from './settings.js';

export type { Registry };

/** A registry with Node's process metrics on it. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * A counter that follows a running total kept elsewhere (a component's own counter): at each scrape
 * it adds what the total gained since the last one (a total that went back, after a restart of its
 * owner, starts the count again from there). Labels by name.
 */
export function followTotal<L extends string>(
  registry: Registry,
  o: { name: string; help: string; labelNames?: readonly L[] },
  totals: () => Iterable<[labels: Partial<Record<L, string>>, total: number]>,
): Counter<L> {
  const seen = new Map<string, number>();
  return new Counter<L>({
    name: o.name,
    help: o.help,
    labelNames: o.labelNames ?? [],
    registers: [registry],
    collect() {
      for (const [labels, total] of totals()) {
        const key = JSON.stringify(labels);
        const last = seen.get(key) ?? 0;
        const gained = total >= last ? total - last : total;
        seen.set(key, total);
        // Zero too, so every labelled series exists from the first scrape.
        this.inc(labels, gained);
      }
    },
  });
}

/** The answer to `GET /metrics`. */
export async function metricsResponse(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

export const metricsEndpointSettings = {
  metricsPort: integer({
    flag: '--metrics-port',
    env: 'METRICS_PORT',
    default: 0,
    min: 0,
    max: 65535,
    doc: 'Port of GET /metrics (Prometheus text format) for this component; 0: none.',
  }),
  metricsHost: text({
    flag: '--metrics-host',
    env: 'METRICS_HOST',
    default: '127.0.0.1',
    maxLength: 255,
    doc: 'Address GET /metrics listens on (0.0.0.0 in compose, so Prometheus can reach it).',
  }),
};

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

/** `GET /metrics` on a port of its own, for a component without an HTTP server. */
export async function startMetricsEndpoint(params: {
  registry: Registry;
  port: number;
  host: string;
  logger: Logger;
}): Promise<MetricsEndpoint> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end('no such route; use GET /metrics\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`${req.method} is not allowed on /metrics; use GET\n`);
    }
    metricsResponse(params.registry).then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        params.logger.warn({ err }, 'metrics could not be collected');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot serve /metrics on ${params.host}:${params.port} (${err.code}); change --metrics-port`)),
    );
    server.listen(params.port, params.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  params.logger.info({ url: `${url}/metrics` }, 'metrics endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
