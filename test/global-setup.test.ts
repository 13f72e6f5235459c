/**
 * `npm test` on a machine where no Redis answers at REDIS_URL: the suite's global set-up starts a
 * private redis-server, the tests get its URL, and it is gone after the run.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../common/free-port.js';
import { pingRedis } from '../system/private-redis.js';

const root = path.resolve(import.meta.dirname, '..');

it('starts a private Redis for the run when REDIS_URL does not answer, and stops it after', async () => {
  const dead = `redis://127.0.0.1:${await freePort()}`;
  const run = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--config',
      'test/fixtures/fresh-machine/vitest.config.ts',
    ],
    { cwd: root, env: { ...process.env, REDIS_URL: dead }, encoding: 'utf8', timeout: 120_000 },
  );
  const output = `${run.stdout}\n${run.stderr}`;
  expect(run.status, output).toBe(0);
  const announced = /the tests use a private one at (redis:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  expect(announced, output).toBeDefined();
  expect(output).toContain(`fixture used ${announced}`);
  expect(await pingRedis(announced!, 500)).toBe(false); // stopped after the run
  expect(await pingRedis(dead, 500)).toBe(false);
}, 150_000);
