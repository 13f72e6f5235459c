/**
 * Shared command-line plumbing: builds a commander program from settings specs, resolves the
 * settings, and turns configuration and usage errors into one clear line on stderr and exit code 2
 * (1 is left for runtime failures), before anything has started or changed.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from './errors.js';
import { addSettingFlags, loadSettings, type SettingSpecs, type SettingValues } from './settings.js';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

/** What a command line is: its name and description for `--help`, and where to read it from. */
export interface CommandLine {
  name: string;
  description: string;
  /** A positional argument, as commander declares it (e.g. `['[query...]', 'the query']`); none by default. */
  argument?: [name: string, description: string];
  /** Defaults to `process.argv.slice(2)`. */
  argv?: string[];
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The values of each spec set, in order, and the positional arguments (empty unless declared). */
export type CommandLineValues<S extends SettingSpecs[]> = { [I in keyof S]: SettingValues<S[I]> } & {
  readonly args: string[];
};

/**
 * Builds the program from `specs` (flags and `--help`), parses the command line and resolves each
 * spec set from flags + environment: one call per entry point. Exits 0 after `--help`, 2 on bad input.
 */
export function readCommandLine<S extends SettingSpecs[]>(cli: CommandLine, ...specs: S): CommandLineValues<S> {
  const program = buildProgram(cli.name, cli.description, ...specs);
  if (cli.argument) program.argument(...cli.argument);
  const values = parseCommandLine(program, cli.argv ?? process.argv.slice(2), cli.env ?? process.env, ...specs);
  return Object.assign(values, { args: program.args });
}

function buildProgram(name: string, description: string, ...specs: SettingSpecs[]): Command {
  const program = new Command(name).description(description).allowExcessArguments(false).exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str) });
  for (const s of specs) addSettingFlags(program, s);
  return program;
}

/** Parses argv, then resolves each spec set from flags + environment. Exits 2 on bad input. */
function parseCommandLine<S extends SettingSpecs[]>(
  program: Command,
  argv: string[],
  env: NodeJS.ProcessEnv,
  ...specs: S
): { [I in keyof S]: SettingValues<S[I]> } {
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    throw error;
  }
  const flags = program.opts();
  try {
    return specs.map((s) => loadSettings(s, { flags, env })) as { [I in keyof S]: SettingValues<S[I]> };
  } catch (error) {
    if (error instanceof ConfigError) exitWithUsageError(error);
    throw error;
  }
}

export function exitWithUsageError(error: ConfigError): never {
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(EXIT_USAGE);
}

/** A start that cannot go on (its message says why and what to do): one line on stderr, exit 1. */
export function exitWithStartError(error: Error): never {
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(EXIT_FAILURE);
}
