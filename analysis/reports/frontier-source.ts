/**
 * The scheduling frontier in the report: `npm run lab -- --frontier` measures it in virtual time
 * and writes a Vega-Lite spec with its data inlined (reports/frontier.vl.json by default); the
 * report embeds that spec in its scheduling section, compiled and checked like its own charts. The
 * file is the contract (named datasets `points`, `boundMean`, `boundMax`), so the report needs
 * nothing from the scheduler's code. Without the file the section says how to make one.
 */
import { readFile } from 'node:fs/promises';
import type { TopLevelSpec } from 'vega-lite';
import { z } from 'zod';
import { compileChart, type Chart } from './charts/chart.js';
import { FrontierSourceError } from './errors.js';

/** Where the lab writes the frontier by default, relative to the report's output directory. */
export const FRONTIER_FILE = 'frontier.vl.json';

const Spec = z
  .object({
    $schema: z.string().regex(/vega-lite/, 'is not a Vega-Lite schema'),
    datasets: z.object({ points: z.array(z.record(z.string(), z.unknown())).min(1) }).passthrough(),
  })
  .passthrough();

export interface Frontier {
  source: string;
  chart: Chart;
  /** The spec's title and subtitle (load, seeds, knob), shown above the chart. */
  subtitle: string;
}

/** Reads and compiles the lab's frontier spec; `missingOk` returns undefined when the file does not exist. */
export async function readFrontier(source: string, missingOk = false): Promise<Frontier | undefined> {
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FrontierSourceError(source, `cannot read it: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FrontierSourceError(source, 'not JSON (expected the spec npm run lab -- --frontier writes)', {
      cause: err,
    });
  }
  const parsed = Spec.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FrontierSourceError(
      source,
      `not a frontier spec: ${issue ? `${issue.path.join('.') || 'spec'} ${issue.message}` : 'invalid'}`,
    );
  }
  const title = (parsed.data as { title?: { subtitle?: unknown } }).title;
  let chart: Chart;
  try {
    chart = compileChart('chart-frontier', parsed.data as unknown as TopLevelSpec, ['points']);
  } catch (err) {
    throw new FrontierSourceError(source, (err as Error).message, { cause: err });
  }
  return { source, chart, subtitle: typeof title?.subtitle === 'string' ? title.subtitle : '' };
}
