import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { announceSystem, readSystemFile, runningSystem, SystemNotRunningError } from '../../common/system-file.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'system-file-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const addresses = { api: 'http://127.0.0.1:18080', query: 'http://127.0.0.1:18124/query', clickhouseHttp: null };

describe('<data-dir>/system.json', () => {
  it('gives the addresses while running, and says when and which run stopped after', () => {
    const dir = path.join(work, 'a');
    const announced = announceSystem(dir, { runId: 'r1', kind: 'embedded', addresses });
    expect(runningSystem(dir, '--query-url')).toEqual(addresses);
    announced.stopped();
    expect(readSystemFile(dir)).toMatchObject({ state: 'stopped', runId: 'r1' });
    expect(() => runningSystem(dir, '--query-url')).toThrow(/is not running: run r1 stopped at .*--query-url/);
  });

  it('tells a process that died without stopping from a running one', () => {
    const dir = path.join(work, 'b');
    announceSystem(dir, { runId: 'r2', kind: 'server', addresses });
    const file = path.join(dir, 'system.json');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid; // a pid that has exited
    fs.writeFileSync(file, JSON.stringify({ ...readSystemFile(dir), pid: gone }));
    expect(() => runningSystem(dir, '--api-url')).toThrow(/process \d+ \(run r2\) is gone without stopping cleanly/);
  });

  it('says where it looked when there is no file', () => {
    const dir = path.join(work, 'none');
    expect(() => runningSystem(dir, '--api-url / API_URL')).toThrow(SystemNotRunningError);
    expect(() => runningSystem(dir, '--api-url / API_URL')).toThrow(`${path.join(dir, 'system.json')} does not exist`);
  });

  it('leaves a newer process’s announcement alone when an older one stops', () => {
    const dir = path.join(work, 'c');
    const older = announceSystem(dir, { runId: 'old', kind: 'embedded', addresses });
    const file = path.join(dir, 'system.json');
    fs.writeFileSync(file, JSON.stringify({ ...readSystemFile(dir), pid: process.pid + 1_000_000, runId: 'new' }));
    older.stopped();
    expect(readSystemFile(dir)).toMatchObject({ state: 'running', runId: 'new' });
  });
});
