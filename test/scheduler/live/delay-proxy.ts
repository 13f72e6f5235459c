/**
 * A recording HTTP proxy between the scheduler and the database: every delay request and its
 * answer's status are logged from the outside, so a test counts the scheduler's refused requests
 * independently of the scheduler's own figures — `POST /delay` as one record, each request of a
 * `POST /delays` batch as one record with its own status. `refuse` makes the proxy answer a request
 * with a 400 itself, without forwarding it: the database never refuses a well-formed request from
 * the scheduler, so a refusal has to be injected to test what the scheduler does with one. A batch
 * holding a refused request is refused as a whole (as the database refuses a batch with one
 * malformed request) and not recorded: nothing of it was applied. `batches: false` answers 404 to
 * `POST /delays`, as a database without the endpoint (the reference) does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DelayBatchResponse, DelayRequest, ErrorBody } from '../../../common/contracts.js';

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
  /** `POST /delays` requests received (answered or not). */
  batches: number;
  close(): Promise<void>;
}

export async function startDelayProxy(
  target: string,
  refuse: (request: DelayRequest, index: number) => boolean = () => false,
  options: { batches?: boolean } = {},
): Promise<DelayProxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const delays: ProxiedDelay[] = [];
  let batches = 0;
  const refusal = (field: string): string =>
    JSON.stringify({
      error: { code: 'INVALID_FIELD', message: 'refused by the test proxy', field },
    } satisfies ErrorBody);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/delays') {
        batches++;
        if (options.batches === false) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no route POST /delays' } }));
          return;
        }
        const items = (JSON.parse(body.toString()) as { delays: DelayRequest[] }).delays;
        const refused = items.findIndex((d, k) => refuse(d, delays.length + k));
        if (refused >= 0) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(refusal(`delays.${refused}.delay`));
          return;
        }
        const sentAt = Date.now();
        const upstream = http.request(
          new URL('/delays', target),
          { method: 'POST', headers: req.headers, agent },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const text = Buffer.concat(parts);
              if (answer.statusCode === 200) {
                const { results } = JSON.parse(text.toString()) as DelayBatchResponse;
                results.forEach((r, k) => delays.push({ ...items[k]!, status: r.status, sentAt, at: Date.now() }));
              }
              res.writeHead(answer.statusCode ?? 502, answer.headers).end(text);
            });
          },
        );
        upstream.on('error', () => res.writeHead(502).end());
        upstream.end(body);
        return;
      }
      const delay =
        req.method === 'POST' && req.url === '/delay' ? (JSON.parse(body.toString()) as DelayRequest) : null;
      const sentAt = Date.now();
      const record = (status: number) => {
        if (delay) delays.push({ ...delay, status, sentAt, at: Date.now() });
      };
      if (delay && refuse(delay, delays.length)) {
        record(400);
        res.writeHead(400, { 'content-type': 'application/json' }).end(refusal('delay'));
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
    get batches() {
      return batches;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}
