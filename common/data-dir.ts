/**
 * The system's data directory (`--data-dir`, default ./data): one place that holds a system's
 * state — chDB's data, the capture outbox, the private Redis, the catalog it was made with
 * (catalog.json) and, while it runs, where it serves (system.json). Each of the first three can
 * still be set on its own; unset, it lives under the data directory, so one flag moves everything.
 */
import path from 'node:path';
import { text, type Setting } from './settings.js';

export const dataDirSettings = {
  dataDir: text({
    flag: '--data-dir',
    env: 'DATA_DIR',
    default: './data',
    maxLength: 4096,
    doc: 'The system’s directory: its ClickHouse data, outbox and private Redis (unless set one by one), the catalog it was made with (catalog.json) and, while it runs, its addresses (system.json, read by npm run sql / verify / report).',
  }),
};

/**
 * A directory setting whose default is a subdirectory of the data directory: the same flag and
 * variable, no fixed default (so an explicit value is told from none), documented as such.
 */
export function underDataDir(spec: Setting<string | undefined>, sub: string): Setting<string | undefined> {
  return { ...spec, default: undefined, doc: `${spec.doc} Default: <data-dir>/${sub}.` };
}

/** The directory in use: the value given, or `<dataDir>/<sub>`. */
export function inDataDir(dataDir: string, value: string | undefined, sub: string): string {
  return value ?? path.join(dataDir, sub);
}
