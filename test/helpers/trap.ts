import { createServer } from 'node:net';

/**
 * A loopback TCP listener that counts and drops every connection: a test gives its address as
 * a registry's and asserts nothing was contacted.
 */
export interface Trap {
  /** `127.0.0.1:<port>`, usable as a registry host. */
  host: string;
  connections(): number;
  close(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
