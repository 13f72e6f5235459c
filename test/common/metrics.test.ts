/**
 * The metrics plumbing every component shares (common/metrics.ts): a counter that follows a running
 * total kept elsewhere, and `GET /metrics` on a port of its own for the components without an HTTP
 * server, parsed as Prometheus text.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import {
  createMetricsRegistry,
  followTotal,
  startMetricsEndpoint,
  type MetricsEndpoint,
} from '../../common/metrics.js';

let endpoint: MetricsEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

const sample = async (url: string, name: string, labels: Record<string, string> = {}) => {
  const families = parsePrometheusTextFormat(await (await fetch(`${url}/metrics`)).text());
  const family = families.find((f) => f.name === name);
  const match = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return match === undefined ? undefined : Number(match.value);
};

describe('followTotal', () => {
  it('adds what the total gained since the last scrape, per label, and restarts with a total that went back', async () => {
    const registry = createMetricsRegistry();
    const totals = { a: 5, b: 0 };
    followTotal(registry, { name: 'things_total', help: 'Things.', labelNames: ['kind'] }, () => [
      [{ kind: 'a' }, totals.a],
      [{ kind: 'b' }, totals.b],
    ]);
    endpoint = await startMetricsEndpoint({ registry, port: 0, host: '127.0.0.1', logger: silentLogger });
    expect(await sample(endpoint.url, 'things_total', { kind: 'a' })).toBe(5);
    expect(await sample(endpoint.url, 'things_total', { kind: 'b' })).toBe(0); // present from the start
    totals.a = 8;
    expect(await sample(endpoint.url, 'things_total', { kind: 'a' })).toBe(8);
    totals.a = 2; // its owner restarted: counting goes on from there, never down
    expect(await sample(endpoint.url, 'things_total', { kind: 'a' })).toBe(10);
  });
});

describe('startMetricsEndpoint', () => {
  it('serves Node’s process metrics as Prometheus text, 405 to other methods and 404 elsewhere', async () => {
    endpoint = await startMetricsEndpoint({
      registry: createMetricsRegistry(),
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
    });
    const res = await fetch(`${endpoint.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const names = parsePrometheusTextFormat(await res.text()).map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']));
    const post = await fetch(`${endpoint.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await fetch(`${endpoint.url}/stats`)).status).toBe(404);
  });

  it('names the flag when its port is taken', async () => {
    endpoint = await startMetricsEndpoint({
      registry: createMetricsRegistry(),
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
    });
    const port = Number(new URL(endpoint.url).port);
    await expect(
      startMetricsEndpoint({ registry: createMetricsRegistry(), port, host: '127.0.0.1', logger: silentLogger }),
    ).rejects.toThrow(/EADDRINUSE.*--metrics-port/);
  });
});
