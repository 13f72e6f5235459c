/**
 * The scheduler's client of the database API against the real server (express app over a real
 * Database): a tick's decisions go out as one `POST /delays` and come back as one outcome each,
 * and against a database without the batch endpoint (the reference) the client falls back to one
 * `POST /delay` per decision with the same outcomes. The recording proxy counts what went out.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApi } from '../../../server/api.js';
import { Database } from '../../../server/database.js';
import { simulationOptions } from '../../../server/options.js';
import { DatabaseClient, type DelayRequestItem } from '../../../scheduler/database-client.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';

let db: Database;
let server: Server;
let proxy: DelayProxy | undefined;
let client: DatabaseClient | undefined;

beforeEach(async () => {
  db = new Database(simulationOptions({ seed: 'client', probabilityScale: 20, maxDelay: 600 }));
  db.run(10);
  const app = createApi(db);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
});
afterEach(async () => {
  client?.close();
  await proxy?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Three moves of queued executions, one of an execution that is not queued, one compare-and-set that fails. */
function decisions(): DelayRequestItem[] {
  const [a, b, c, d] = db.queued();
  return [
    { id: a!.execution.id, delay: 5, expectedTick: a!.execution.scheduledTick },
    { id: b!.execution.id, delay: 2, expectedTick: b!.execution.scheduledTick },
    { id: '00000000-0000-4000-8000-000000000000', delay: 1, expectedTick: 3 },
    { id: c!.execution.id, delay: 1, expectedTick: c!.execution.scheduledTick + 7 },
    { id: d!.execution.id, delay: 3, expectedTick: d!.execution.scheduledTick },
  ];
}

describe('DatabaseClient.delayMany', () => {
  it('sends a tick of decisions in one POST /delays and returns one outcome per decision, in order', async () => {
    proxy = await startDelayProxy(url());
    client = new DatabaseClient(proxy.url, 2000, 'scheduler');
    const items = decisions();
    const outcomes = await client.delayMany(items);
    expect(outcomes.map((o) => o.status)).toEqual(['applied', 'applied', 'not-queued', 'moved-by-others', 'applied']);
    expect(outcomes[0]).toMatchObject({ response: { id: items[0]!.id, scheduledTick: items[0]!.expectedTick + 5 } });
    expect(proxy.batches).toBe(1);
    expect(proxy.delays.map((d) => [d.id, d.by, d.status])).toEqual(
      items.map((d, i) => [d.id, 'scheduler', [200, 200, 404, 409, 200][i]]),
    );
  });

  it('falls back to one POST /delay per decision where the database has no /delays, and stays there', async () => {
    proxy = await startDelayProxy(url(), undefined, { batches: false });
    client = new DatabaseClient(proxy.url, 2000, 'scheduler');
    const items = decisions();
    const outcomes = await client.delayMany(items);
    expect(outcomes.map((o) => o.status)).toEqual(['applied', 'applied', 'not-queued', 'moved-by-others', 'applied']);
    expect(proxy.batches).toBe(1);
    // Sent in parallel: recorded in the order the answers came.
    const statusOf = new Map(proxy.delays.map((d) => [d.id, d.status]));
    expect(items.map((d) => statusOf.get(d.id))).toEqual([200, 200, 404, 409, 200]);
    expect(proxy.delays).toHaveLength(5);
    // The next tick goes straight to POST /delay.
    const [e, f] = db.queued().filter((q) => !proxy!.delays.some((d) => d.id === q.execution.id));
    const next = await client.delayMany(
      [e!, f!].map((q) => ({ id: q.execution.id, delay: 1, expectedTick: q.execution.scheduledTick })),
    );
    expect(next.map((o) => o.status).sort()).toEqual(['applied', 'applied']);
    expect(proxy.batches).toBe(1);
  });

  it('sends a batch refused as a whole again one by one, so only the malformed request is refused', async () => {
    const [bad] = db.queued();
    proxy = await startDelayProxy(url(), (req) => req.id === bad!.execution.id);
    client = new DatabaseClient(proxy.url, 2000, 'scheduler');
    const items = decisions();
    const outcomes = await client.delayMany(items);
    expect(outcomes.map((o) => o.status)).toEqual(['refused', 'applied', 'not-queued', 'moved-by-others', 'applied']);
    expect(outcomes[0]).toMatchObject({ httpStatus: 400, code: 'INVALID_FIELD' });
    expect(proxy.batches).toBe(1);
    expect(proxy.delays.filter((d) => d.status === 400).map((d) => d.id)).toEqual([bad!.execution.id]);
  });

  it('reports every decision of a batch as failed when the database does not answer', async () => {
    client = new DatabaseClient('http://127.0.0.1:1', 500, 'scheduler');
    const outcomes = await client.delayMany(decisions());
    expect(outcomes).toHaveLength(5);
    expect(outcomes.every((o) => o.status === 'failed')).toBe(true);
  });
});
