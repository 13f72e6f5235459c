/**
 * `npm run dead-letter` as a user runs it (spawned), against the shared Redis (a random prefix per
 * test) and an ingest storing into a real chDB: a record ClickHouse refuses for real (a CHECK
 * constraint only it violates) is listed, replayed before the fix (it comes back under a new id),
 * and replayed after the fix (stored once).
 */
import { describe, expect, it } from 'vitest';
import { QUEUE_EXECUTIONS, type DeadLetterJobData } from '../../common/contracts.js';
import { BASE_TICK, executions } from '../clickhouse/helpers.js';
import { runCli } from '../helpers/run-cli.js';
import { REDIS_URL, useIngestFixture, waitFor } from './helpers.js';

const CLI = 'ingest/dead-letter-cli.ts';
const DATABASE = 'replay';
const f = useIngestFixture(DATABASE);

const deadLetter = (...args: string[]) => runCli(CLI, args, { REDIS_URL, REDIS_PREFIX: f.queues.prefix });
const listed = async (...args: string[]) => {
  const r = await deadLetter('list', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as (DeadLetterJobData & { id: string })[];
};

describe('npm run dead-letter', () => {
  it('lists a refused record, replays it, and after the fix stores it exactly once', async () => {
    const b = 3_000_000;
    const events = executions(b, 60);
    const poisoned = events[20]!;
    const id = `executions-${poisoned.executionId}`;
    await f.sql(
      `ALTER TABLE ${DATABASE}.executions ADD CONSTRAINT poisoned CHECK execution_id != toUUID('${poisoned.executionId}')`,
    );
    const ingest = f.start();
    await f.queues.addExecutions(events.slice(0, 50));
    await waitFor(async () => (await f.queues.counts()).completed === 50, 60_000, 'the first 50 jobs');

    // list, for people and as JSON, all or by id
    const table = await deadLetter('list');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`${id}\texecutions\t${poisoned.executionId}\t`);
    expect(table.stdout).toMatch(/VIOLATED_CONSTRAINT: Constraint `poisoned`/);
    const [entry, ...rest] = await listed();
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      id,
      queue: QUEUE_EXECUTIONS,
      jobId: poisoned.executionId,
      data: poisoned,
      replays: 0,
    });
    expect(await listed('--id', id)).toEqual([entry]);

    // an unknown id: exit 2, nothing replayed, nothing removed
    const unknown = await deadLetter('replay', '--id', id, '--id', 'executions-nope,metrics-nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('not in the dead-letter queue: executions-nope, metrics-nope');
    expect(await listed()).toEqual([entry]);
    expect(await (await f.queues.executions.getJob(poisoned.executionId))?.getState()).toBe('completed');

    // replayed before the fix: refused again once other records are stored, parked under a new id.
    // The others go in only after the replayed record was refused: a record is parked once an
    // insert that *started* after its first refusal succeeded, so others inserted alongside it prove
    // nothing (under load they could be, and with no record after them it would wait on).
    const retriesBefore = ingest.stats().executions.retries;
    const early = await deadLetter('replay', '--id', id);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toContain(`replayed ${id} → executions (job ${poisoned.executionId})`);
    await waitFor(() => ingest.stats().executions.retries > retriesBefore, 60_000, 'the replayed record refused');
    await f.queues.addExecutions(events.slice(50));
    await waitFor(async () => (await listed()).some((e) => e.id === `${id}-r1`), 60_000, 'parked again');
    const [again, ...none] = await listed();
    expect(none).toEqual([]);
    expect(again).toMatchObject({ id: `${id}-r1`, jobId: poisoned.executionId, data: poisoned, replays: 1 });

    // fixed, then replayed (every record: no --id): stored once, the dead-letter queue empty
    await f.sql(`ALTER TABLE ${DATABASE}.executions DROP CONSTRAINT poisoned`);
    const replay = await deadLetter('replay');
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('1 replayed, 0 not replayed');
    const all = { from: BASE_TICK + b, to: BASE_TICK + b + 59 };
    await waitFor(async () => (await f.store.countExecutions(all)).stored === 60, 60_000, 'the replayed record stored');
    expect(await f.store.countExecutions(all)).toEqual({ stored: 60, rows: 60, duplicateRows: 0, countedTwice: 0 });
    expect(await listed()).toEqual([]);
    const gone = await deadLetter('replay', '--id', `${id}-r1`);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`not in the dead-letter queue: ${id}-r1`);
  }, 240_000); // ten CLI runs, each a Node start (seconds on a loaded machine)

  it('leaves records no queue takes back, and refuses to replay them by id', async () => {
    const outboxLine: DeadLetterJobData = {
      queue: 'outbox',
      jobId: 'outbox-7-12',
      data: '{"type":"exec',
      reason: 'invalid JSON',
      failedAt: Date.now(),
    };
    await f.queues.deadLetter.add('invalid-outbox-line', outboxLine, { jobId: 'outbox-7-12' });
    const byId = await deadLetter('replay', '--id', 'outbox-7-12');
    expect(byId.code).toBe(2);
    expect(byId.stderr).toContain('no queue takes these records back, nothing replayed: outbox-7-12 (outbox)');
    const all = await deadLetter('replay');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('left 1 record(s) no queue takes back');
    expect(await listed()).toEqual([{ id: 'outbox-7-12', ...outboxLine }]);
  }, 120_000);

  it('exits 2 on a bad command or id and 1 when Redis does not answer', async () => {
    const [none, bad, path, away] = await Promise.all([
      deadLetter(),
      deadLetter('purge'),
      deadLetter('list', '--id', '../etc'),
      runCli(CLI, ['list'], { REDIS_URL: 'redis://127.0.0.1:1' }),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("missing required argument 'command'");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "purge": use list or replay');
    expect(path.code).toBe(2);
    expect(path.stderr).toContain('ids (--id)');
    expect(away.code).toBe(1);
    expect(away.stderr).toContain('cannot reach Redis (--redis-url / REDIS_URL): connect ECONNREFUSED');
    expect(away.stdout).toBe('');
  }, 120_000);
});
