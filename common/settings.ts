/**
 * Declarative settings: each component describes its options once (name, flag, environment
 * variable, default, rule, documentation) and gets a validated, fully-populated options object.
 * Precedence: CLI flag, then environment variable, then default. A bad value raises a
 * ConfigError naming the setting, where it came from, the value and the rule; nothing starts.
 */
import { Command, Option } from 'commander';
import { ConfigError } from './errors.js';

/** Settings are plain values: text, numbers and switches. */
export type SettingValue = string | number | boolean | undefined;

export interface Setting<T extends SettingValue> {
  /** Environment variable that sets it, if any. */
  env?: string;
  /** CLI flag that sets it (kebab-case, e.g. `--query-count`), if any. */
  flag?: string;
  /** Default; `undefined` means "unset" and must be allowed by the type `T`. */
  default: T;
  doc: string;
  /** Converts a raw string and checks the rule; returns the rule it broke as a string. */
  parse(raw: string): { ok: true; value: T } | { ok: false; rule: string };
  /** A flag without a value (`--truth`). */
  isSwitch?: boolean;
  /** A flag that may be given several times (`--id a --id b`): the values are joined with commas. */
  repeatable?: boolean;
}

export type SettingSpecs = Record<string, Setting<SettingValue>>;
export type SettingValues<S extends SettingSpecs> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

type Common<T extends SettingValue> = Pick<Setting<T>, 'env' | 'flag' | 'doc' | 'repeatable'>;
const ok = <T>(value: T) => ({ ok: true as const, value });
const fail = (rule: string) => ({ ok: false as const, rule });

function describeRange(kind: string, min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `must be ${kind} between ${min} and ${max}`;
  if (min !== undefined) return `must be ${kind} ≥ ${min}`;
  if (max !== undefined) return `must be ${kind} ≤ ${max}`;
  return `must be ${kind}`;
}

/** A whole number (safe integer) within optional bounds. */
export function integer(o: Common<number> & { default: number; min?: number; max?: number }): Setting<number> {
  const rule = describeRange('an integer', o.min, o.max);
  return {
    ...o,
    parse(raw) {
      const s = raw.trim();
      if (!/^[+-]?\d+$/.test(s)) return fail(rule);
      const v = Number(s);
      if (!Number.isSafeInteger(v)) return fail(rule);
      if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) return fail(rule);
      return ok(v);
    },
  };
}

/** A finite decimal number within optional bounds; `above` is an exclusive lower bound. */
export function decimal(
  o: Common<number> & { default: number; min?: number; max?: number; above?: number },
): Setting<number> {
  const rule =
    o.above !== undefined
      ? `must be a number > ${o.above}${o.max !== undefined ? ` and ≤ ${o.max}` : ''}`
      : describeRange('a number', o.min, o.max);
  return {
    ...o,
    parse(raw) {
      const s = raw.trim();
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return fail(rule);
      const v = Number(s);
      if (!Number.isFinite(v)) return fail(rule);
      if (o.above !== undefined && !(v > o.above)) return fail(rule);
      if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) return fail(rule);
      return ok(v);
    },
  };
}

/** Control characters other than tab and newlines: a NUL in a path would crash the first fs call. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** A string matching an optional pattern; never empty, never longer than `maxLength`, no control characters. */
export function text<D extends string | undefined>(
  o: Common<string> & { default: D; pattern?: RegExp; rule?: string; maxLength?: number },
): Setting<string | D> {
  const maxLength = o.maxLength ?? 1000;
  const rule = o.rule ?? `must be a non-empty string of at most ${maxLength} characters`;
  return {
    ...o,
    parse(raw) {
      if (raw.length === 0 || raw.length > maxLength) return fail(rule);
      if (CONTROL.test(raw)) return fail(`${rule}, without control characters`);
      if (o.pattern && !o.pattern.test(raw)) return fail(rule);
      return ok(raw);
    },
  };
}

/** One of a fixed set of words. */
export function oneOf<const W extends string>(o: Common<W> & { default: W; values: readonly W[] }): Setting<W> {
  const rule = `must be one of ${o.values.join(', ')}`;
  return {
    ...o,
    parse: (raw) => ((o.values as readonly string[]).includes(raw) ? ok(raw as W) : fail(rule)),
  };
}

/** On/off. As a flag it takes no value; in the environment it is 1/0, true/false, yes/no, on/off. */
export function toggle(o: Common<boolean> & { default: boolean }): Setting<boolean> {
  return {
    ...o,
    isSwitch: true,
    parse(raw) {
      const s = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return ok(true);
      if (['0', 'false', 'no', 'off'].includes(s)) return ok(false);
      return fail('must be one of 1, 0, true, false, yes, no, on, off');
    },
  };
}

/** An instant as ISO-8601 text or epoch milliseconds; the value is epoch ms. */
export function instant(o: Common<number> & { default: number }): Setting<number> {
  const rule = 'must be an ISO-8601 date-time (2026-01-01T00:00:00Z) or epoch milliseconds';
  return {
    ...o,
    parse(raw) {
      const s = raw.trim();
      const v = /^\d+$/.test(s) ? Number(s) : /^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(s) : NaN;
      return Number.isSafeInteger(v) ? ok(v) : fail(rule);
    },
  };
}

/** Registers every spec that has a flag on a commander program, with its doc and default. */
export function addSettingFlags(program: Command, specs: SettingSpecs): Command {
  for (const spec of Object.values(specs)) {
    if (!spec.flag) continue;
    const option = new Option(spec.isSwitch ? spec.flag : `${spec.flag} <value>`, describe(spec));
    if (spec.repeatable)
      option.argParser((value: string, previous?: string) => (previous === undefined ? value : `${previous},${value}`));
    program.addOption(option);
  }
  return program;
}

function describe(spec: Setting<SettingValue>): string {
  const parts = [spec.doc];
  if (spec.default !== undefined && !spec.isSwitch) parts.push(`(default: ${String(spec.default)})`);
  if (spec.env) parts.push(`[env ${spec.env}]`);
  return parts.join(' ');
}

/** commander's attribute name for a flag: `--query-count` → `queryCount`. */
function attributeOf(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Resolves every setting from flags (as commander parsed them), the environment and defaults.
 * Throws ConfigError for the first bad value.
 */
export function loadSettings<S extends SettingSpecs>(
  specs: S,
  sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {},
): SettingValues<S> {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    let raw: string | undefined;
    let source: string | undefined;
    const flagValue = spec.flag ? flags[attributeOf(spec.flag)] : undefined;
    if (flagValue !== undefined) {
      raw = flagValue === true ? 'true' : (flagValue as string);
      source = spec.flag;
    } else if (spec.env && env[spec.env] !== undefined && env[spec.env] !== '') {
      raw = env[spec.env];
      source = spec.env;
    }
    if (raw === undefined) {
      out[key] = spec.default;
      continue;
    }
    const parsed = spec.parse(raw);
    if (!parsed.ok) throw new ConfigError(key, raw, parsed.rule, source);
    out[key] = parsed.value;
  }
  return out as SettingValues<S>;
}

/** A Markdown table of the specs, for the README (kept in sync by a test). */
export function settingsTable(specs: SettingSpecs): string {
  const rows = Object.values(specs).map(
    (s) =>
      `| ${s.flag ? `\`${s.flag}\`` : ''} | ${s.env ? `\`${s.env}\`` : ''} | ${s.default === undefined ? '' : `\`${String(s.default)}\``} | ${s.doc} |`,
  );
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
