/** The analysis settings: defaults, the environment, bad values, and the README's settings table. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analysisOptions, analysisSettings, compileAnalysisOptions } from '../../analysis/options.js';
import { ConfigError } from '../../common/errors.js';
import { loadSettings } from '../../common/settings.js';
import { ROOT } from '../helpers/run-cli.js';

describe('analysis options', () => {
  it('compiles the defaults into options with every field set, durations in ms', () => {
    expect(analysisOptions()).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'spike' },
      intervalMs: 30_000,
      earlySolvesMs: Array.from({ length: 45 }, (_, i) => 2000 * (i + 1)),
      runAtStart: true,
      lockTtlMs: 60_000,
      shutdownTimeoutMs: 30_000,
      estimator: {
        method: 'bounds',
        blockWindows: 120,
        settleMs: 3_000,
        insertMarginMs: 5_000,
        blocksPerInsert: 4,
        denseLimit: 1200,
      },
    });
  });

  it('reads the environment and refuses a bad value, naming the variable', () => {
    const v = loadSettings(analysisSettings, {
      env: { ANALYSIS_INTERVAL_MS: '5000', ANALYSIS_DELAY_FIRST_RUN: '1', ANALYSIS_TOTAL_METHOD: 'midpoint' },
    });
    expect(compileAnalysisOptions(v)).toMatchObject({
      intervalMs: 5000,
      runAtStart: false,
      estimator: { method: 'midpoint' },
    });
    expect(() => loadSettings(analysisSettings, { env: { ANALYSIS_BLOCK_WINDOWS: '0' } })).toThrow(ConfigError);
    expect(() => loadSettings(analysisSettings, { env: { ANALYSIS_BLOCK_WINDOWS: '0' } })).toThrow(
      /ANALYSIS_BLOCK_WINDOWS/,
    );
  });

  it('is documented in analysis/README.md', () => {
    const readme = readFileSync(`${ROOT}analysis/README.md`, 'utf8');
    for (const spec of Object.values(analysisSettings)) {
      if (spec.flag) expect(readme, spec.flag).toContain(`\`${spec.flag}\``);
      if (spec.env) expect(readme, spec.env).toContain(`\`${spec.env}\``);
    }
  });
});
