/**
 * The chaos run's fault proxy (system/chaos/fault-proxy.ts) against a real TCP echo server: it
 * forwards both ways; `blackhole` accepts and holds connections without forwarding or refusing
 * anything; `reset` resets the open connections and new ones; `heal` forwards again.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../../system/chaos/fault-proxy.js';

let echo: net.Server;
let proxy: FaultProxy;

beforeAll(async () => {
  echo = net.createServer((s) => s.on('error', () => undefined).pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  proxy = await FaultProxy.start('test', { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
});
afterAll(async () => {
  await proxy.close();
  await new Promise<void>((r) => echo.close(() => r()));
});

type Outcome = { reply: string } | { error: string } | { closed: true } | { silent: true };

/** Connects through the proxy, sends `text`, and says what came back within `ms`. */
function exchange(text: string, ms = 300, socket = net.connect({ host: '127.0.0.1', port: proxy.port })) {
  // Resets come after an exchange too (the heal drops held sockets): seen by the next exchange.
  if (socket.listenerCount('error') === 0) socket.on('error', () => undefined);
  return new Promise<{ outcome: Outcome; socket: net.Socket }>((resolve) => {
    let reply = '';
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      resolve({ outcome, socket });
    };
    const timer = setTimeout(() => done(reply ? { reply } : { silent: true }), ms);
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply === text) done({ reply });
    });
    const onError = (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message });
    const onClose = () => done(reply ? { reply } : { closed: true });
    socket.once('error', onError);
    socket.once('close', onClose);
    if (socket.readyState === 'open') socket.write(text);
    else socket.once('connect', () => socket.write(text));
  });
}

describe('FaultProxy', () => {
  it('forwards, hangs on blackhole, resets on reset, and forwards again after heal', async () => {
    const open = await exchange('hello');
    expect(open.outcome).toEqual({ reply: 'hello' });

    proxy.partition('blackhole');
    // The open connection and a new one: accepted, nothing forwarded, nothing refused.
    expect((await exchange('held?', 300, open.socket)).outcome).toEqual({ silent: true });
    const held = await exchange('new?');
    expect(held.outcome).toEqual({ silent: true });
    expect(held.socket.destroyed).toBe(false);
    proxy.heal();
    // Healing drops what the blackhole held; new connections work again.
    expect((await exchange('x', 300, held.socket)).outcome).not.toEqual({ reply: 'x' });
    const again = await exchange('again');
    expect(again.outcome).toEqual({ reply: 'again' });

    proxy.partition('reset');
    const cut = await exchange('cut?', 300, again.socket);
    expect(cut.outcome).toMatchObject({ error: 'ECONNRESET' });
    expect((await exchange('refused?')).outcome).toMatchObject({ error: 'ECONNRESET' });
    proxy.heal();
    expect((await exchange('back')).outcome).toEqual({ reply: 'back' });
  });
});
