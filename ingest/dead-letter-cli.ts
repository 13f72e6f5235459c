/**
 * `npm run dead-letter -- list [--id …] [--json]` · `npm run dead-letter -- replay [--id …]`:
 * the records the ingest could not store, and, once the cause is fixed, putting them back on their
 * queue under their original job ids, so each is stored once (ingest/dead-letter.ts). Talks to the
 * running system's Redis (REDIS_URL, --redis-prefix), embedded or not; the ingest workers take the
 * replayed records like any other.
 *
 * `replay` without `--id` replays every record that has a queue to go back to. An unknown id stops
 * everything before anything changes. Exit codes: 0 done; 1 Redis unreachable, or a record could
 * not be replayed (it stays in the dead-letter queue, the reason on stderr); 2 bad usage or unknown id.
 */
import type { RedisClient } from '../common/redis-client.js';
import { redisKeyPrefix } from '../common/redis-url.js';
import { EXIT_FAILURE, EXIT_USAGE, readCommandLine } from '../common/cli.js';
import { connectOnce } from '../common/redis-connect.js';
import {
  DeadLetterQueue,
  isReplayable,
  ReplayRefusedError,
  UnknownDeadLetterError,
  type DeadLetter,
} from './dead-letter.js';
import { deadLetterCliSettings } from './options.js';

const COMMANDS = ['list', 'replay'] as const;

const commandLine = readCommandLine(
  {
    name: 'dead-letter',
    description: 'List the records the ingest could not store, or replay them onto their queue after a fix.',
    argument: ['<command>', `${COMMANDS.join(' or ')}`],
  },
  deadLetterCliSettings,
);
const [cli] = commandLine;
const command = commandLine.args[0];

function fail(code: number, message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

if (!(COMMANDS as readonly string[]).includes(command ?? '')) {
  fail(EXIT_USAGE, `unknown command ${JSON.stringify(command)}: use ${COMMANDS.join(' or ')}`);
}
const ids = cli.ids === undefined ? undefined : [...new Set(cli.ids.split(','))];

let redis: RedisClient;
try {
  redis = await connectOnce(cli.redisUrl, 3000, 10_000);
} catch (err) {
  fail(EXIT_FAILURE, `cannot reach Redis (--redis-url / REDIS_URL): ${(err as Error).message}`);
}
const queue = new DeadLetterQueue(redis, redisKeyPrefix(cli.redisUrl, cli.prefix), { asTool: true });

function printList(entries: DeadLetter[]): void {
  if (cli.json) {
    process.stdout.write(`${JSON.stringify(entries)}\n`);
    return;
  }
  if (entries.length === 0) {
    process.stdout.write('the dead-letter queue is empty\n');
    return;
  }
  for (const e of entries) {
    const at = new Date(e.failedAt).toISOString();
    process.stdout.write(`${e.id}\t${e.queue}\t${e.jobId}\t${at}\t${e.reason.split('\n', 1)[0]}\n`);
  }
  process.stdout.write(
    `${entries.length} record(s); replay after fixing the cause: npm run dead-letter -- replay --id <id>\n`,
  );
}

/** Replays one at a time, each removed from the dead-letter queue only after its re-queue. */
async function replay(all: DeadLetter[]): Promise<number> {
  const stuck = all.filter((e) => !isReplayable(e));
  if (ids && stuck.length > 0) {
    const which = stuck.map((e) => `${e.id} (${e.queue})`).join(', ');
    fail(EXIT_USAGE, `no queue takes these records back, nothing replayed: ${which}`);
  }
  if (stuck.length > 0)
    process.stdout.write(`left ${stuck.length} record(s) no queue takes back (corrupt outbox lines)\n`);
  const entries = all.filter(isReplayable);
  let failed = 0;
  let replayed = 0;
  for (const e of entries) {
    try {
      await queue.replay(e);
      replayed++;
      process.stdout.write(`replayed ${e.id} → ${e.queue} (job ${e.jobId})\n`);
    } catch (err) {
      if (!(err instanceof ReplayRefusedError)) throw err;
      failed++;
      process.stderr.write(`not replayed: ${err.message}\n`);
    }
  }
  process.stdout.write(`${replayed} replayed, ${failed} not replayed\n`);
  return failed === 0 ? 0 : EXIT_FAILURE;
}

let code = 0;
try {
  const entries = await queue.list(ids);
  if (command === 'list') printList(entries);
  else code = await replay(entries);
} catch (err) {
  if (err instanceof UnknownDeadLetterError) code = EXIT_USAGE;
  else code = EXIT_FAILURE;
  process.stderr.write(`error: ${(err as Error).message}\n`);
} finally {
  await queue.close().catch(() => undefined);
  redis.disconnect();
}
process.exit(code);
