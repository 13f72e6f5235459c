/**
 * The suite (and the chaos run, which restarts components dozens of times) starts the product's
 * entry points as child processes a few hundred times. Under `tsx`
 * each start pays the loader: every module of the graph (ours and node_modules') goes through its
 * resolve and load hooks, about 1.5 s of CPU per start on the CI machine before the first line of
 * `main` runs. So the global setup compiles each entry point once per run with esbuild — the same
 * transform tsx applies file by file — into one ES module per entry, packages left as imports, and
 * the tests start `node <bundle>`. The code that runs is the same; only the loading is paid once.
 *
 * One difference had to be kept out: `import.meta.url` in a bundle would be the bundle's address,
 * while the product finds its migrations and report assets beside its own source files. The
 * plugin below writes each module's own source URL in its place.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

/** Where the global setup puts the bundles for this run (inherited by the test processes). */
export const BUNDLES_ENV = 'SPIKE_TEST_CLI_BUNDLES';

const sourceImportMeta: Plugin = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => ({
      contents: (await readFile(args.path, 'utf8')).replaceAll(
        'import.meta.url',
        JSON.stringify(pathToFileURL(args.path).href),
      ),
      loader: 'ts',
    }));
  },
};

/** The entry points `npm run <script>` starts (`tsx <file>` in package.json), plus test fixtures. */
export function entryPoints(root: string, extra: string[] = []): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const fromScripts = Object.values(scripts).flatMap((command) => {
    const m = /^tsx (\S+\.ts)$/.exec(command);
    return m ? [m[1]!] : [];
  });
  return [...new Set([...fromScripts, ...extra])];
}

/**
 * A fresh directory for one run's bundles. Inside node_modules, so that the packages the bundles
 * import resolve as they do from the sources; one per run, so parallel runs do not share it.
 */
export function bundlesDir(root: string): string {
  const parent = path.join(root, 'node_modules', '.cache', 'spike-cli-bundles');
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(path.join(parent, 'run-'));
}

/**
 * Compiles every entry point into `outDir/<entry>.mjs` (`server/main.ts.mjs`: the source's name stays
 * in the process's command line, which the product shows when it names another process).
 */
export async function buildBundles(root: string, outDir: string, entries: string[]): Promise<void> {
  // Loaded here only: a development tool's dependency, never the product's at run time.
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: root,
    entryPoints: entries.map((e) => ({ in: e, out: e })),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
    plugins: [sourceImportMeta],
  });
}

/**
 * The command that starts `entry` (a path from the repository root, as in package.json): `node` on
 * its bundle when the global setup made one, else `tsx` on the source (a file run outside vitest).
 */
export function cliCommand(root: string, entry: string): { file: string; args: string[] } {
  const dir = process.env[BUNDLES_ENV];
  const bundle = dir && path.join(dir, `${entry}.mjs`);
  if (bundle && existsSync(bundle)) return { file: process.execPath, args: ['--enable-source-maps', bundle] };
  return { file: process.execPath, args: ['--import', 'tsx', entry] };
}
