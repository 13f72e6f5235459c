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

export function buildProgram(name: string, description: string, ...specs: SettingSpecs[]): Command {
  const program = new Command(name).description(description).allowExcessArguments(false).exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str) });
  for (const s of specs) addSettingFlags(program, s);
  return program;
}

/** Parses argv, then resolves each spec set from flags + environment. Exits 2 on bad input. */
export function parseCommandLine<S extends SettingSpecs[]>(
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
