import { describe, expect, it } from 'vitest';
import { readCommandLine } from '../../common/cli.js';
import { ConfigError } from '../../common/errors.js';
import { decimal, instant, integer, loadSettings, oneOf, text, toggle } from '../../common/settings.js';

const specs = {
  count: integer({ flag: '--count', env: 'COUNT', default: 3, min: 1, max: 10, doc: 'count' }),
  ratio: decimal({ flag: '--ratio', env: 'RATIO', default: 0.5, above: 0, max: 1, doc: 'ratio' }),
  name: text({ flag: '--name', env: 'NAME', default: undefined, doc: 'name', maxLength: 5 }),
  on: toggle({ flag: '--on', env: 'ON', default: false, doc: 'on' }),
  mode: oneOf({ flag: '--mode', env: 'MODE', default: 'a', values: ['a', 'b'] as const, doc: 'mode' }),
  at: instant({ flag: '--at', env: 'AT', default: 0, doc: 'at' }),
};

describe('loadSettings', () => {
  it('uses defaults, then the environment, then flags', () => {
    expect(loadSettings(specs)).toEqual({ count: 3, ratio: 0.5, name: undefined, on: false, mode: 'a', at: 0 });
    const v = loadSettings(specs, {
      env: { COUNT: '4', RATIO: '1e-1', ON: 'yes', MODE: 'b', AT: '2026-01-01T00:00:01Z', NAME: 'env' },
      flags: { count: '5', on: true },
    });
    expect(v).toEqual({ count: 5, ratio: 0.1, name: 'env', on: true, mode: 'b', at: Date.UTC(2026, 0, 1, 0, 0, 1) });
  });

  it.each([
    [{ COUNT: '0' }, 'count', 'COUNT'],
    [{ COUNT: '2.5' }, 'count', 'COUNT'],
    [{ COUNT: '99999999999999999999' }, 'count', 'COUNT'],
    [{ RATIO: '0' }, 'ratio', 'RATIO'],
    [{ RATIO: 'NaN' }, 'ratio', 'RATIO'],
    [{ RATIO: 'Infinity' }, 'ratio', 'RATIO'],
    [{ NAME: 'toolong' }, 'name', 'NAME'],
    [{ ON: 'maybe' }, 'on', 'ON'],
    [{ MODE: 'c' }, 'mode', 'MODE'],
    [{ AT: 'soon' }, 'at', 'AT'],
  ])('rejects %j with a ConfigError naming the field and its source', (env, field, source) => {
    try {
      loadSettings(specs, { env });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const e = error as ConfigError;
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.field).toBe(field);
      expect(e.source).toBe(source);
      expect(e.message).toContain(`${field} (${source})`);
    }
  });
});

describe('a repeatable flag', () => {
  it('joins its values with commas, in order; the environment gives the list at once', () => {
    const ids = { ids: text({ flag: '--id', env: 'IDS', default: undefined, repeatable: true, doc: 'ids' }) };
    const read = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      readCommandLine({ name: 't', description: 't', argv, env }, ids)[0].ids;
    expect(read(['--id', 'a', '--id', 'b,c', '--id', 'd'])).toBe('a,b,c,d');
    expect(read(['--id', 'a'])).toBe('a');
    expect(read([], { IDS: 'x,y' })).toBe('x,y');
    expect(read([])).toBeUndefined();
  });
});
