/**
 * docker-compose.yml and the Dockerfile, checked against the code, since no Docker engine runs here
 * (the topology itself is exercised by topology.test.ts as separate processes): images pinned to
 * exact versions, one image built from the Dockerfile for every component, each command an npm
 * script that exists, each environment variable one the component reads (from its settings
 * declarations) with a value its rule accepts, healthchecks, depends_on conditions on defined and
 * checked services, named volumes declared, Redis with append-only persistence the relay accepts
 * as durable (and no ALLOW_VOLATILE_REDIS anywhere), reports on a mounted folder, migrations
 * applied by every component at start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dataDirSettings } from '../../common/data-dir.js';
import type { SettingSpecs } from '../../common/settings.js';
import { redisSettings } from '../../common/redis-settings.js';
import { clickhouseSettings } from '../../clickhouse/client.js';
import { ingestProcessSettings, ingestSettings } from '../../ingest/options.js';
import { metricsEndpointSettings } from '../../common/metrics.js';
import { analysisReportSettings, analysisSettings } from '../../analysis/options.js';
import { captureSettings } from '../../server/capture/options.js';
import { judgeConfig } from '../../server/capture/redis-persistence.js';
import { serverSettings, simulationSettings } from '../../server/options.js';
import { policySettings } from '../../scheduler/options.js';
import { schedulerServiceSettings } from '../../scheduler/service-options.js';
import { ROOT } from '../helpers/run-cli.js';

interface Healthcheck {
  test?: string | string[];
  interval?: string;
  retries?: number;
}
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;
const services = Object.entries(compose.services);
const product = services.filter(([, s]) => s.build !== undefined);

/**
 * What each component's entry point reads, by npm script: the settings it passes to
 * readCommandLine (see the entry files), plus LOG_LEVEL, which common/logger.ts reads for all.
 */
const COMPONENTS: Record<string, SettingSpecs[]> = {
  server: [simulationSettings, serverSettings, redisSettings, captureSettings, dataDirSettings],
  ingest: [clickhouseSettings, ingestSettings, ingestProcessSettings],
  analysis: [clickhouseSettings, analysisSettings, analysisReportSettings, metricsEndpointSettings],
  scheduler: [policySettings, schedulerServiceSettings, redisSettings, clickhouseSettings, metricsEndpointSettings],
};
const LOGGER_ENV = 'LOG_LEVEL';

function script(service: Service): string {
  const argv = typeof service.command === 'string' ? service.command.split(/\s+/) : (service.command ?? []);
  if (argv[0] === 'npm' && argv[1] === 'start' && argv.length === 2) return 'start';
  if (argv[0] === 'npm' && argv[1] === 'run' && argv.length === 3) return argv[2]!;
  throw new Error(`command ${JSON.stringify(service.command)} is not "npm run <script>" or "npm start"`);
}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)] as const)
    : Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)] as const);
  return Object.fromEntries(entries);
}

/** The value compose gives when the variable is not set on the host: `${X:-default}` → default. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}/g, (_, d: string | undefined) => d ?? '');
}

function dependsOn(service: Service): [string, string | undefined][] {
  const d = service.depends_on ?? {};
  return Array.isArray(d) ? d.map((n) => [n, undefined]) : Object.entries(d).map(([n, v]) => [n, v?.condition]);
}

function namedVolumes(service: Service): string[] {
  return (service.volumes ?? [])
    .map((v) => (typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '')))
    .filter((source) => source !== '' && !source.startsWith('.') && !source.startsWith('/') && !source.startsWith('~'));
}

describe('docker-compose.yml', () => {
  it('pins every image to an exact version (no latest, no floating major or minor tag)', () => {
    for (const [name, s] of services.filter(([, s]) => s.build === undefined)) {
      expect(s.image, name).toBeDefined();
      const [, tag] = /^[^:]+:(.+)$/.exec(s.image!) ?? [];
      expect(tag, `${name}: ${s.image} has no tag`).toBeDefined();
      expect(tag, name).not.toMatch(/latest/);
      expect(tag, `${name}: ${s.image} is not an exact version`).toMatch(/^v?\d+\.\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/);
    }
    const images = services.map(([, s]) => s.image ?? '');
    expect(images.some((i) => i.startsWith('clickhouse/clickhouse-server:'))).toBe(true);
    expect(images.some((i) => i.startsWith('redis:'))).toBe(true);
  });

  it('runs one service per component, all built from the Dockerfile', () => {
    expect(product.map(([, s]) => script(s)).sort()).toEqual(Object.keys(COMPONENTS).sort());
    for (const [name, s] of product) {
      const build = typeof s.build === 'string' ? { context: s.build } : s.build!;
      expect(build.context, name).toBe('.');
      expect(build.dockerfile ?? 'Dockerfile', name).toBe('Dockerfile');
    }
    // One image for all of them.
    expect(new Set(product.map(([, s]) => s.image)).size).toBe(1);
  });

  it('each command is an npm script that exists', () => {
    for (const [name, s] of product) expect(scripts, `${name}: npm run ${script(s)}`).toHaveProperty(script(s));
  });

  it('each environment variable is one the component reads, with a value its rule accepts', () => {
    for (const [name, s] of product) {
      const specs = COMPONENTS[script(s)]!;
      const byEnv = new Map(specs.flatMap((spec) => Object.values(spec).map((setting) => [setting.env, setting])));
      for (const [key, raw] of Object.entries(environment(s))) {
        if (key === LOGGER_ENV) continue;
        const setting = byEnv.get(key);
        expect(setting, `${name} sets ${key}, which ${script(s)} does not read`).toBeDefined();
        const value = withDefaults(raw);
        if (value === '') continue; // empty is "unset" for the settings loader
        const parsed = setting!.parse(value);
        expect(parsed.ok, `${name}: ${key}=${value} ${parsed.ok ? '' : parsed.rule}`).toBe(true);
      }
    }
  });

  it('points every component at the compose Redis and ClickHouse services', () => {
    for (const [name, s] of product) {
      const env = environment(s);
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      if (COMPONENTS[script(s)]!.includes(clickhouseSettings)) {
        expect(env.CLICKHOUSE_URL, name).toBe('http://clickhouse:8123');
        expect(dependsOn(s), name).toContainEqual(['clickhouse', 'service_healthy']);
      }
      expect(dependsOn(s), name).toContainEqual(['redis', 'service_healthy']);
    }
    expect(environment(compose.services.scheduler!).SERVER_URL).toBe('http://server:8080');
    expect(environment(compose.services.server!).HOST).toBe('0.0.0.0');
  });

  it('every ClickHouse component applies the migrations at start', () => {
    for (const [name, s] of product) {
      if (!COMPONENTS[script(s)]!.includes(clickhouseSettings)) continue;
      const entry = /tsx (\S+\.ts)/.exec(scripts[script(s)]!)?.[1];
      expect(entry, name).toBeDefined();
      expect(readFileSync(join(ROOT, entry!), 'utf8'), `${name} (${entry})`).toMatch(/await migrate\(/);
    }
  });

  it('every service has a healthcheck, and depends_on names defined services that have one', () => {
    for (const [name, s] of services) {
      const test = s.healthcheck?.test;
      expect(test, `${name} has no healthcheck`).toBeDefined();
      expect(Array.isArray(test) ? test.length > 1 : (test ?? '').length > 0, name).toBe(true);
      const argv = Array.isArray(test) ? test : [];
      const script = argv.find((a) => a.endsWith('.ts'));
      if (script) expect(existsSync(join(ROOT, script)), `${name}: ${script}`).toBe(true);
      for (const [dep, condition] of dependsOn(s)) {
        expect(compose.services, `${name} depends on ${dep}`).toHaveProperty(dep);
        expect(['service_healthy', 'service_started', 'service_completed_successfully'], `${name} → ${dep}`).toContain(
          condition,
        );
        if (condition === 'service_healthy') expect(compose.services[dep]!.healthcheck, dep).toBeDefined();
      }
    }
    // The scheduler waits for the database it schedules.
    expect(dependsOn(compose.services.scheduler!)).toContainEqual(['server', 'service_healthy']);
  });

  it('declares the named volumes: ClickHouse data, Redis data, the server data directory and outbox', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of services) {
      for (const v of namedVolumes(s)) expect(declared, `${name} mounts ${v}`).toContain(v);
    }
    const mounts = (name: string) => (compose.services[name]!.volumes ?? []).map(String);
    expect(mounts('clickhouse').some((m) => m.endsWith(':/var/lib/clickhouse'))).toBe(true);
    expect(mounts('redis').some((m) => m.endsWith(':/data'))).toBe(true);
    const onVolume = (dir: string | undefined) =>
      mounts('server').some((m) => namedVolumes({ volumes: [m] }).length === 1 && m.endsWith(`:${dir}`));
    expect(onVolume(environment(compose.services.server!).OUTBOX_DIR)).toBe(true);
    // The catalog the database was made with survives a container's re-creation.
    expect(onVolume(environment(compose.services.server!).DATA_DIR)).toBe(true);
  });

  it('runs Redis with append-only persistence and writes reports to a mounted folder', () => {
    const redis = compose.services.redis!.command;
    const argv = typeof redis === 'string' ? redis.split(/\s+/) : (redis ?? []);
    expect(argv.join(' ')).toMatch(/--appendonly yes/);
    // Durable by the relay's own rule (its default appendfsync is everysec), so the server needs no allowance.
    const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    expect(judgeConfig(option('--appendonly') ?? 'no', option('--appendfsync') ?? 'everysec').verdict).toBe('durable');
    for (const [name, s] of product) expect(environment(s), name).not.toHaveProperty('ALLOW_VOLATILE_REDIS');
    const analysis = compose.services.analysis!;
    const reportsDir = environment(analysis).REPORTS_DIR;
    expect(reportsDir).toBeDefined();
    expect((analysis.volumes ?? []).map(String)).toContain(`./reports:${reportsDir}`);
  });
});

describe('prometheus.yml', () => {
  /** Where each component serves GET /metrics in compose, from its environment: port and address. */
  const METRICS_AT: Record<string, [port: string, host: string]> = {
    server: ['PORT', 'HOST'],
    ingest: ['INGEST_HEALTH_PORT', 'INGEST_HEALTH_HOST'],
    analysis: ['METRICS_PORT', 'METRICS_HOST'],
    scheduler: ['METRICS_PORT', 'METRICS_HOST'],
  };

  it('is mounted into the official Prometheus image, which scrapes GET /metrics of every component', () => {
    const prometheus = compose.services.prometheus!;
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect((prometheus.volumes ?? []).map(String)).toContain('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    const config = parse(readFileSync(join(ROOT, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = config.scrape_configs.flatMap((job) => {
      expect(job.metrics_path ?? '/metrics', job.job_name).toBe('/metrics');
      return job.static_configs.flatMap((c) => c.targets);
    });
    expect(product.length).toBe(Object.keys(METRICS_AT).length);
    for (const [name, s] of product) {
      const [portVar, hostVar] = METRICS_AT[script(s)]!;
      const env = environment(s);
      expect(env[hostVar], `${name} listens for Prometheus on the network`).toBe('0.0.0.0');
      const port = withDefaults(env[portVar] ?? '');
      expect(Number(port), `${name} ${portVar}`).toBeGreaterThan(0);
      expect(targets, name).toContain(`${name}:${port}`);
    }
  });
});

describe('Dockerfile', () => {
  it('is node 20 slim, pinned, installs from the lock file, runs as non-root, npm start by default', () => {
    expect(dockerfile).toMatch(/^FROM node:20\.\d+\.\d+-[a-z]+-slim$/m);
    expect(dockerfile).toMatch(/^COPY .*package-lock\.json/m);
    expect(dockerfile).toMatch(/^RUN npm (ci|install) --omit=dev/m);
    const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(dockerfile).toMatch(/^CMD \["npm", "start"\]$/m);
  });

  it('has a .dockerignore that keeps dependencies and data out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'data', '.git']) expect(ignored).toContain(p);
  });
});
