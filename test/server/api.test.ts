import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedItem } from '../../common/contracts.js';
import { createApi } from '../../server/api.js';
import { Database } from '../../server/database.js';
import { simulationOptions } from '../../server/options.js';

let db: Database;
let server: Server;
let base: string;

async function listen(app: ReturnType<typeof createApi>): Promise<[Server, string]> {
  const s = await new Promise<Server>((resolve) => {
    const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
  });
  return [s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`];
}

beforeAll(async () => {
  db = new Database(simulationOptions({ seed: 'api', probabilityScale: 20, maxDelay: 600 }));
  db.run(15);
  [server, base] = await listen(createApi(db, { extraStats: () => ({ capture: { outboxRecords: 0 } }) }));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(base + path, { method: 'POST', body, headers });
const snapshot = () => JSON.stringify([db.queued(), db.stats()]);

/** Posts `body`, expects a JSON error with this status, code and field, and no change to the database. */
async function expectRefused(path: string, body: string, status: number, code: string, field?: string) {
  const before = snapshot();
  const res = await post(path, body);
  expect(res.status).toBe(status);
  const json = (await res.json()) as { error: { code: string; field?: string; message: string } };
  expect(json.error.code).toBe(code);
  if (field) expect(json.error.field).toBe(field);
  expect(json.error.message.length).toBeGreaterThan(5);
  expect(snapshot()).toBe(before);
}

describe('GET /queued', () => {
  it('lists queued executions with query id, execution id and the scheduled time in ms', async () => {
    const res = await fetch(`${base}/queued`);
    expect(res.status).toBe(200);
    const items = (await res.json()) as QueuedItem[];
    expect(items.length).toBe(db.stats().queueLength);
    for (const item of items) {
      expect(item.query.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(item.execution.id).toMatch(/^[0-9a-f-]{36}$/);
      // now (the last processed tick) + remaining ticks × tick length
      const remaining = item.execution.scheduledTick - (db.currentTick - 1);
      expect(item.execution.timestamp).toBe(db.timeOf(db.currentTick - 1) + remaining * db.options.tickMs);
    }
  });

  it('answers 204 with no body when the queue is empty', async () => {
    const empty = new Database(simulationOptions({ seed: 'empty', probabilityScale: 0 }));
    empty.run(3);
    const [s, url] = await listen(createApi(empty));
    try {
      const res = await fetch(`${url}/queued`);
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    } finally {
      s.close();
    }
  });
});

describe('GET /resources, /healthz, /stats', () => {
  it('returns the latest window with integer average, min and max per resource', async () => {
    const body = (await (await fetch(`${base}/resources`)).json()) as Record<string, { average: number }>;
    expect(body).toEqual(JSON.parse(JSON.stringify(db.resources())));
    for (const r of ['cpu', 'io', 'memory']) expect(Number.isInteger(body[r]!.average)).toBe(true);
    expect(body.windowId).toBe(0);
  });

  it('reports liveness and the counters, with extra sections merged in', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', tick: db.currentTick });
    const stats = (await (await fetch(`${base}/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ ...db.stats(), capture: { outboxRecords: 0 } });
  });

  it('does not expose ground truth unless the evaluation option is on', async () => {
    expect((await fetch(`${base}/truth`)).status).toBe(404);
    const evalDb = new Database(simulationOptions({ seed: 'api', exposeTruth: true }));
    const [s, url] = await listen(createApi(evalDb));
    try {
      const body = (await (await fetch(`${url}/truth`)).json()) as { queries: unknown[] };
      expect(body.queries).toEqual(evalDb.groundTruth());
    } finally {
      s.close();
    }
  });
});

describe('POST /delay', () => {
  it('postpones a queued execution and answers 200 with its new schedule', async () => {
    const target = db.queued()[0]!;
    const res = await post('/delay', JSON.stringify({ id: target.execution.id, delay: 10 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: target.execution.id,
      requestedDelay: 10,
      appliedDelay: 10,
      scheduledTick: target.execution.scheduledTick + 10,
    });
  });

  it('accepts upper-case ids, a body without content type, and the optional "by"', async () => {
    const target = db.queued()[1]!;
    const res = await post(
      '/delay',
      JSON.stringify({ id: target.execution.id.toUpperCase(), delay: -1, by: 'lab' }),
      {},
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe(target.execution.id);
  });

  const queuedId = () => db.queued()[0]!.execution.id;
  const cases: [string, () => string, number, string, string?][] = [
    ['not JSON', () => '{"id": ', 400, 'INVALID_JSON', 'body'],
    ['empty body', () => '', 400, 'INVALID_FIELD', 'id'],
    ['a JSON array', () => '[1, 2]', 400, 'INVALID_BODY'],
    ['a JSON string', () => '"hello"', 400, 'INVALID_JSON', 'body'],
    ['null', () => 'null', 400, 'INVALID_JSON', 'body'],
    ['missing id', () => JSON.stringify({ delay: 3 }), 400, 'INVALID_FIELD', 'id'],
    ['id not a string', () => JSON.stringify({ id: 42, delay: 3 }), 400, 'INVALID_FIELD', 'id'],
    ['id not a UUID', () => JSON.stringify({ id: 'abc', delay: 3 }), 400, 'INVALID_FIELD', 'id'],
    ['id with SQL', () => JSON.stringify({ id: "' OR 1=1 --", delay: 3 }), 400, 'INVALID_FIELD', 'id'],
    ['missing delay', () => JSON.stringify({ id: queuedId() }), 400, 'INVALID_FIELD', 'delay'],
    ['delay as text', () => JSON.stringify({ id: queuedId(), delay: '10' }), 400, 'INVALID_FIELD', 'delay'],
    ['fractional delay', () => JSON.stringify({ id: queuedId(), delay: 1.5 }), 400, 'INVALID_FIELD', 'delay'],
    ['delay null', () => JSON.stringify({ id: queuedId(), delay: null }), 400, 'INVALID_FIELD', 'delay'],
    ['delay above bound', () => JSON.stringify({ id: queuedId(), delay: 601 }), 400, 'INVALID_FIELD', 'delay'],
    ['delay below bound', () => JSON.stringify({ id: queuedId(), delay: -601 }), 400, 'INVALID_FIELD', 'delay'],
    ['huge delay', () => `{"id": "${queuedId()}", "delay": 1e400}`, 400, 'INVALID_FIELD', 'delay'],
    ['bad "by"', () => JSON.stringify({ id: queuedId(), delay: 1, by: 'x'.repeat(65) }), 400, 'INVALID_FIELD', 'by'],
    [
      'fractional expectedTick',
      () => JSON.stringify({ id: queuedId(), delay: 1, expectedTick: 1.5 }),
      400,
      'INVALID_FIELD',
      'expectedTick',
    ],
    [
      'an expectedTick where the execution is not',
      () => {
        const item = db.queued()[0]!;
        return JSON.stringify({ id: item.execution.id, delay: 1, expectedTick: item.execution.scheduledTick + 1 });
      },
      409,
      'SCHEDULE_CHANGED',
      'expectedTick',
    ],
    [
      'unknown execution',
      () => JSON.stringify({ id: '00000000-0000-4000-8000-000000000000', delay: 1 }),
      404,
      'EXECUTION_NOT_QUEUED',
      'id',
    ],
    [
      'oversized body',
      () => JSON.stringify({ id: queuedId(), delay: 1, pad: 'x'.repeat(20_000) }),
      413,
      'BODY_TOO_LARGE',
      'body',
    ],
  ];
  it.each(cases)(
    'rejects %s with a JSON error naming the field, changing nothing',
    (_name, body, status, code, field) => expectRefused('/delay', body(), status, code, field),
  );

  it('applies a delay whose expectedTick is where the execution is (a compare-and-set)', async () => {
    const item = db.queued()[2]!;
    const res = await post(
      '/delay',
      JSON.stringify({ id: item.execution.id, delay: 4, by: 'scheduler', expectedTick: item.execution.scheduledTick }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ scheduledTick: item.execution.scheduledTick + 4 });
  });

  it('answers 404 for an execution that already ran', async () => {
    const id = queuedId();
    db.run(700);
    const res = await post('/delay', JSON.stringify({ id, delay: 1 }));
    expect(res.status).toBe(404);
  });
});

describe('POST /delays', () => {
  const ids = () => db.queued().map((q) => q.execution.id);
  const unknownId = '00000000-0000-4000-8000-000000000000';

  it('applies many requests in order and answers each as POST /delay would (200, 404, 409)', async () => {
    const [a, b] = db.queued();
    const before = db.stats().delaysAccepted;
    const res = await post(
      '/delays',
      JSON.stringify({
        delays: [
          { id: a!.execution.id, delay: 3, by: 'scheduler', expectedTick: a!.execution.scheduledTick },
          { id: unknownId, delay: 1 },
          { id: b!.execution.id, delay: 2, expectedTick: b!.execution.scheduledTick + 1 },
          // The same execution again: it now is where the first request put it.
          { id: a!.execution.id, delay: -1, expectedTick: a!.execution.scheduledTick + 3 },
        ],
      }),
    );
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Record<string, unknown>[] };
    expect(results.map((r) => r.status)).toEqual([200, 404, 409, 200]);
    expect(results[0]).toMatchObject({ id: a!.execution.id, scheduledTick: a!.execution.scheduledTick + 3 });
    expect(results[1]).toMatchObject({ id: unknownId, error: { code: 'EXECUTION_NOT_QUEUED', field: 'id' } });
    expect(results[2]).toMatchObject({ error: { code: 'SCHEDULE_CHANGED', field: 'expectedTick' } });
    expect(results[3]).toMatchObject({ scheduledTick: a!.execution.scheduledTick + 2 });
    expect(db.stats().delaysAccepted).toBe(before + 2);
    const now = new Map(db.queued().map((q) => [q.execution.id, q.execution.scheduledTick]));
    expect(now.get(a!.execution.id)).toBe(a!.execution.scheduledTick + 2);
    expect(now.get(b!.execution.id)).toBe(b!.execution.scheduledTick);
  });

  const one = () => ({ id: ids()[0]!, delay: 1 });
  const cases: [string, () => string, number, string, string?][] = [
    ['not JSON', () => '{"delays": [', 400, 'INVALID_JSON', 'body'],
    ['a JSON array', () => JSON.stringify([one()]), 400, 'INVALID_BODY', 'delays'],
    ['no delays', () => JSON.stringify({}), 400, 'INVALID_BODY', 'delays'],
    ['delays not an array', () => JSON.stringify({ delays: one() }), 400, 'INVALID_BODY', 'delays'],
    ['an empty batch', () => JSON.stringify({ delays: [] }), 400, 'INVALID_FIELD', 'delays'],
    [
      'more than 1 000 requests',
      () => JSON.stringify({ delays: Array.from({ length: 1001 }, one) }),
      400,
      'INVALID_FIELD',
      'delays',
    ],
    ['an unknown top-level field', () => JSON.stringify({ delays: [one()], all: true }), 400, 'INVALID_FIELD', 'all'],
    ['a request that is not an object', () => JSON.stringify({ delays: [one(), 7] }), 400, 'INVALID_FIELD', 'delays.1'],
    [
      'a request with an unknown field',
      () => JSON.stringify({ delays: [one(), { ...one(), __proto__x: 1 }] }),
      400,
      'INVALID_FIELD',
      'delays.1.__proto__x',
    ],
    [
      'a request with a bad id',
      () => JSON.stringify({ delays: [one(), one(), { id: "' OR 1=1 --", delay: 1 }] }),
      400,
      'INVALID_FIELD',
      'delays.2.id',
    ],
    [
      'a fractional delay',
      () => JSON.stringify({ delays: [one(), { ...one(), delay: 0.5 }] }),
      400,
      'INVALID_FIELD',
      'delays.1.delay',
    ],
    [
      'a delay above the bound',
      () => JSON.stringify({ delays: [{ ...one(), delay: 601 }] }),
      400,
      'INVALID_FIELD',
      'delays.0.delay',
    ],
    [
      'a body above 256 kB',
      () => JSON.stringify({ delays: [{ ...one(), by: 'x'.repeat(300_000) }] }),
      413,
      'BODY_TOO_LARGE',
      'body',
    ],
  ];
  it.each(cases)('rejects %s as a whole, naming the field, and changes nothing', (_name, body, status, code, field) =>
    expectRefused('/delays', body(), status, code, field),
  );

  it('answers 405 to other methods', async () => {
    const res = await fetch(`${base}/delays`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('methods and routes', () => {
  it.each([
    ['GET', '/delay', 'POST'],
    ['PUT', '/delay', 'POST'],
    ['POST', '/queued', 'GET'],
    ['DELETE', '/resources', 'GET'],
    ['POST', '/stats', 'GET'],
    ['PATCH', '/healthz', 'GET'],
  ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
    const before = snapshot();
    const res = await fetch(base + path, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    expect(snapshot()).toBe(before);
  });

  it('answers 404 with a JSON error for an unknown path', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

describe('GET /stats/executed', () => {
  it('returns the counts of a tick range', async () => {
    const res = await fetch(`${base}/stats/executed?from=0&to=${db.currentTick}`);
    expect(await res.json()).toEqual(db.executedIn(0, db.currentTick));
  });

  it.each([
    ['', 'from'],
    ['?from=1', 'to'],
    ['?from=a&to=2', 'from'],
    ['?from=1&to=2.5', 'to'],
    ['?from=5&to=1', 'from'],
  ])('rejects %s naming %s', async (query, field) => {
    const res = await fetch(`${base}/stats/executed${query}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
  });
});
