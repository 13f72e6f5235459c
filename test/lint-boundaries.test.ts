/**
 * The component boundaries are a lint rule (eslint.config.js), not a convention: these cases check
 * that the rule actually fires. (Before the import resolver was configured, the import rules could
 * not resolve `./x.js` to `./x.ts` and silently checked nothing.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: root });

/** Lints `file` as it is in the tree with `extra` appended; returns the rule ids reported. */
async function rulesFired(file: string, extra: string): Promise<string[]> {
  const filePath = path.join(root, file);
  const code = `${readFileSync(filePath, 'utf8')}\n${extra}\n`;
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('component boundaries (import-x/no-restricted-paths)', () => {
  it('refuses an import of another component from the scheduler, analysis, ingest and server', async () => {
    const cases: [string, string][] = [
      ['scheduler/band.ts', "export { analysisSettings } from '../analysis/options.js';"],
      ['analysis/reports/assets.ts', "export { startServer } from '../../server/server.js';"],
      ['ingest/retry.ts', "export { Policy } from '../scheduler/policy.js';"],
      ['server/traffic.ts', "export { startIngest } from '../ingest/index.js';"],
      ['clickhouse/counts.ts', "export { startAnalysis } from '../analysis/index.js';"],
      ['common/definitions.ts', "export { createClickHouse } from '../clickhouse/client.js';"],
    ];
    for (const [file, line] of cases) {
      expect(await rulesFired(file, line), file).toContain('import-x/no-restricted-paths');
    }
  }, 120_000);

  it('lets components use the contracts, and the evaluation harness run the database in-process', async () => {
    expect(
      await rulesFired('scheduler/band.ts', "export { loadLatestEstimates } from '../clickhouse/estimates.js';"),
    ).not.toContain('import-x/no-restricted-paths');
    expect(
      await rulesFired('scheduler/lab/metrics.ts', "export { Database } from '../../server/database.js';"),
    ).not.toContain('import-x/no-restricted-paths');
  }, 120_000);
});
