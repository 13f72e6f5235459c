import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SettingSpecs } from '../common/settings.js';
import { serverSettings, simCliSettings, simulationSettings } from '../server/options.js';
import { embeddedSpecs } from '../system/options.js';
import { reportCliSettings } from '../analysis/reports/options.js';
import { gatewaySettings } from '../clickhouse/http-gateway.js';
import { chaosSettings } from '../system/chaos/options.js';
import { verifySettings } from '../system/verify.js';
import { ROOT } from './helpers/run-cli.js';

const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> })
  .scripts;

describe('README', () => {
  it.each([
    ['simulation', simulationSettings],
    ['server', serverSettings],
    ['sim CLI', simCliSettings],
    ...Object.entries(embeddedSpecs()),
    ['report CLI', reportCliSettings],
    ['clickhouse gateway', gatewaySettings],
    ['chaos', chaosSettings],
    ['verify CLI', verifySettings],
  ] as [string, SettingSpecs][])('documents every %s flag and environment variable', (_name, specs) => {
    for (const spec of Object.values(specs)) {
      if (spec.flag) expect(readme, spec.flag).toContain(`\`${spec.flag}\``);
      if (spec.env) expect(readme, spec.env).toContain(`\`${spec.env}\``);
    }
  });

  it('only mentions npm scripts that exist', () => {
    const mentioned = [...readme.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!);
    expect(mentioned.length).toBeGreaterThan(3);
    for (const name of mentioned) expect(scripts, name).toHaveProperty(name);
  });
});
