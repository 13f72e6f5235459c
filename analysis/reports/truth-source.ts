/**
 * Ground truth for evaluation reports (`npm run report -- --truth-from …`): the true cost of every
 * query, from `GET /truth` of a server started with `--truth`, or from a file: that endpoint's
 * body, a plain array, or the `catalog` line that `npm run sim -- --truth` writes first. Truth is
 * only ever drawn next to the estimates; the product never reads it.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { TrueQuery } from '../../common/contracts.js';
import { TruthSourceError } from './errors.js';

const Query = z.object({
  id: z.string().min(1),
  profile: z.enum(['cpu', 'io', 'memory']).default('cpu'),
  cpu: z.number(),
  io: z.number(),
  memory: z.number(),
  probability: z.number().default(0),
});
const Body = z.union([z.array(Query), z.object({ queries: z.array(Query) })]);

function parse(source: string, text: string): TrueQuery[] {
  // JSON Lines from `npm run sim`: the catalog is the first line, with type "catalog".
  const first = text.trimStart().startsWith('{"type"') ? text.split('\n', 1)[0]! : text;
  let json: unknown;
  try {
    json = JSON.parse(first);
  } catch (err) {
    throw new TruthSourceError(
      source,
      'not JSON (expected GET /truth output, an array of queries, or sim --truth output)',
      {
        cause: err,
      },
    );
  }
  const parsed = Body.safeParse(json);
  if (!parsed.success) {
    throw new TruthSourceError(source, `not a list of queries: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return Array.isArray(parsed.data) ? parsed.data : parsed.data.queries;
}

export async function readTruth(source: string): Promise<TrueQuery[]> {
  if (/^https?:\/\//.test(source)) {
    let res: Response;
    try {
      res = await fetch(source);
    } catch (err) {
      throw new TruthSourceError(source, `cannot reach it: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok) throw new TruthSourceError(source, `HTTP ${res.status} (is the server started with --truth?)`);
    return parse(source, await res.text());
  }
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new TruthSourceError(source, `cannot read it: ${(err as Error).message}`, { cause: err });
  }
  return parse(source, text);
}
