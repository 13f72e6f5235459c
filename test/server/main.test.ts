import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/run-cli.js';

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

describe('the server process (npm run server)', () => {
  it('serves the API in real time and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = startCli('server/main.ts', [
      '--port',
      String(port),
      '--seed',
      'main',
      '--tick-ms',
      '20',
      '--without-capture',
    ]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const base = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 15_000;
      while (!stderr.includes('database running') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toContain('database running');
      const first = (await (await fetch(`${base}/stats`)).json()) as { ticks: number; firstTick: number };
      await new Promise((r) => setTimeout(r, 1000));
      const second = (await (await fetch(`${base}/stats`)).json()) as { ticks: number; driver: { state: string } };
      // 1 s at 20 ms per tick is 50 ticks; allow a noisy machine some slack.
      expect(second.ticks - first.ticks).toBeGreaterThan(40);
      expect(second.ticks - first.ticks).toBeLessThan(60);
      expect(second.driver.state).toBe('running');
      expect(second).not.toHaveProperty('capture');
      // Ticks are numbered on the wall clock, so ids stay unique across restarts.
      expect(Math.abs(first.firstTick * 20 - Date.now())).toBeLessThan(30_000);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stderr).toContain('shutting down');
  });

  it.each([
    [['--port', '70000'], /port \(--port\)/],
    [['--log-level', 'loud'], /--log-level/],
    [['--tick-ms', '0'], /--tick-ms/],
  ])('refuses %j with exit code 2 before starting', async (args, message) => {
    const r = await runCli('server/main.ts', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
