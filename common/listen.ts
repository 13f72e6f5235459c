/**
 * Opening an HTTP listener with an error people can act on: a port someone else holds becomes
 * `PortInUseError`, whose message names the port and the flag that changes it (one line, exit 1 at
 * the entry point), instead of a raw EADDRINUSE stack.
 */
import type { Server } from 'node:http';
import net from 'node:net';
import { SpikeError } from './errors.js';

/** The setting that chooses a port, as the user types it. */
export interface PortSetting {
  flag: string;
  env: string;
}

export class PortInUseError extends SpikeError {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly setting: PortSetting,
    options?: ErrorOptions,
  ) {
    super(
      'PORT_IN_USE',
      `port ${port} on ${host} is already in use (another process listens there): stop it, or choose another port with ${setting.flag} (${setting.env})`,
      options,
    );
  }
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** Starts `listen(port, host, callback)` of an express app or http server; EADDRINUSE becomes PortInUseError. */
export function listenOn(
  listen: (port: number, host: string, callback: (err?: Error) => void) => Server,
  port: number,
  host: string,
  setting: PortSetting,
): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const fail = (err: Error) =>
      reject(isAddressInUse(err) ? new PortInUseError(port, host, setting, { cause: err }) : err);
    const server = listen(port, host, (err) => (err ? fail(err) : resolve(server)));
    server.once('error', fail);
  });
}

/**
 * Throws PortInUseError when something already listens on one of `ports` (0: any free port, not
 * checked). Run before anything heavy starts, so a busy port stops a start before chDB opens; the
 * real listen still maps a port taken in between.
 */
export async function requireFreePorts(ports: { port: number; host: string; setting: PortSetting }[]): Promise<void> {
  for (const p of ports) {
    if (p.port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', (err) =>
        reject(isAddressInUse(err) ? new PortInUseError(p.port, p.host, p.setting, { cause: err }) : err),
      );
      probe.listen(p.port, p.host, () => probe.close(() => resolve()));
    });
  }
}
