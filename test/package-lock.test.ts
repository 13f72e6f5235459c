/**
 * `npm ci` refuses a lock file that lacks any dependency, optional ones included. chdb lists one
 * native package per platform as optional, and the registry serves only linux-x64's, so `npm
 * install` cannot record the others: they are written into the lock by hand (version, os, cpu, no
 * tarball; npm skips them on other platforms). An upgrade of chdb drops them again; this says so.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/run-cli.js';

interface LockEntry {
  version?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as { packages: Record<string, LockEntry> };
const chdb = JSON.parse(readFileSync(`${ROOT}node_modules/chdb/package.json`, 'utf8')) as {
  optionalDependencies?: Record<string, string>;
};

describe('package-lock.json', () => {
  it('records every platform package of chdb, so npm ci accepts it', () => {
    const optional = Object.entries(chdb.optionalDependencies ?? {});
    expect(optional.length).toBeGreaterThan(1);
    for (const [name, version] of optional) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry, `${name} in package-lock.json (see the header of this test)`).toBeDefined();
      expect(entry!.version).toBe(version);
      expect(entry!.optional).toBe(true);
      expect(entry!.os?.length).toBeGreaterThan(0);
      expect(entry!.cpu?.length).toBeGreaterThan(0);
    }
  });
});
