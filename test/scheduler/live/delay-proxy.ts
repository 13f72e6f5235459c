/**
 * A recording HTTP proxy between the scheduler and the database: every `POST /delay` and its
 * answer's status are logged from the outside, so a test counts the scheduler's refused requests
 * independently of the scheduler's own figures. `refuse` makes the proxy answer a request with a
 * 400 itself, without forwarding it: the database never refuses a well-formed request from the
 * scheduler, so a refusal has to be injected to test what the scheduler does with one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DelayRequest, ErrorBody } from '../../../common/contracts.js';

export interface ProxiedDelay extends DelayRequest {
  status: number;
  /** When the proxy received the request (before the database saw it). */
  sentAt: number;
  /** When the database's answer came back (after it applied or refused the request). */
  at: number;
}

export interface DelayProxy {
  url: string;
  delays: ProxiedDelay[];
  close(): Promise<void>;
}

export async function startDelayProxy(
  target: string,
  refuse: (request: DelayRequest, index: number) => boolean = () => false,
): Promise<DelayProxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const delays: ProxiedDelay[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const delay =
        req.method === 'POST' && req.url === '/delay' ? (JSON.parse(body.toString()) as DelayRequest) : null;
      const sentAt = Date.now();
      const record = (status: number) => {
        if (delay) delays.push({ ...delay, status, sentAt, at: Date.now() });
      };
      if (delay && refuse(delay, delays.length)) {
        const error: ErrorBody = {
          error: { code: 'INVALID_FIELD', message: 'refused by the test proxy', field: 'delay' },
        };
        record(400);
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(error));
        return;
      }
      const upstream = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: req.headers, agent },
        (answer) => {
          record(answer.statusCode ?? 0);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    delays,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
