/**
 * The JavaScript a report page inlines so that it opens offline: the built browser bundles of
 * Vega, Vega-Lite and vega-embed from node_modules (about 830 KB together), read once per process.
 * The packages' `exports` do not expose the bundles, so they are found next to each main entry.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface InlineLibrary {
  name: string;
  version: string;
  code: string;
}

const BUNDLES = [
  { name: 'vega', file: 'vega.min.js' },
  { name: 'vega-lite', file: 'vega-lite.min.js' },
  { name: 'vega-embed', file: 'vega-embed.min.js' },
] as const;

let cached: InlineLibrary[] | undefined;

/** The three bundles, in load order (vega-embed's UMD wrapper reads the `vega` and `vegaLite` globals). */
export function inlineLibraries(): InlineLibrary[] {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  cached = BUNDLES.map(({ name, file }) => {
    // Every main entry of these packages sits in `<package>/build/`, next to the browser bundle.
    const build = dirname(require.resolve(name));
    const pkg = JSON.parse(readFileSync(join(build, '..', 'package.json'), 'utf8')) as { version: string };
    // An inline script ends at the first `</script`, wherever it is; in a bundle it can only be inside
    // a string or regular expression literal, where `<\/script` means the same.
    const code = readFileSync(join(build, file), 'utf8').replace(/<\/script/gi, '<\\/script');
    return { name, version: pkg.version, code };
  });
  return cached;
}
