/**
 * The ingest process's own `GET /healthz` (`npm run ingest -- --health-port N`), on 127.0.0.1:
 *   200 {"status":"ok"|"degraded","state","reasons":[…]} while it runs — degraded when records are
 *       held because inserts fail (ClickHouse away, or refusing every record after a schema change);
 *       it recovers by itself, so a restart would not help;
 *   503 the same body with "status":"stopping" once it drains or has closed.
 * and, given a registry, `GET /metrics` in Prometheus text format (ingest/metrics.ts).
 * Other methods are 405 with an Allow header, other paths 404, every other answer JSON.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/logger.js';
import { metricsResponse, type Registry } from '../common/metrics.js';
import type { IngestHandle } from './worker.js';

export interface HealthEndpoint {
  url: string;
  close(): Promise<void>;
}

export async function startHealthEndpoint(params: {
  ingest: Pick<IngestHandle, 'state' | 'health'>;
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  metrics?: Registry;
  logger: Logger;
}): Promise<HealthEndpoint> {
  const host = params.host ?? '127.0.0.1';
  const registry = params.metrics;
  const { ingest } = params;
  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (registry && path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      void metricsResponse(registry).then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    if (path !== '/healthz') {
      return send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route; use GET /healthz' } });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const message = `${req.method} is not allowed on /healthz; use GET`;
      return send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message } }, { allow: 'GET' });
    }
    const state = ingest.state;
    const { status, reasons } = ingest.health();
    const stopping = state === 'draining' || state === 'closed';
    send(res, stopping ? 503 : 200, { status: stopping ? 'stopping' : status, state, reasons });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot serve /healthz on ${host}:${params.port} (${err.code}); change --health-port`)),
    );
    server.listen(params.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  params.logger.info({ url: `${url}/healthz` }, 'ingest health endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
