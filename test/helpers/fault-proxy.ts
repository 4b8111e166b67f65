import { createServer, request, type IncomingMessage, type Server } from 'node:http';

export interface FaultProxy {
  /** `127.0.0.1:<port>`: use it as the registry host. */
  host: string;
  /** Requests failed so far. */
  failures: number;
  /** While true, requests matching the rule are answered with the fault status (500) and the connection dropped. */
  broken: boolean;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy in front of a real registry that can fail requests on purpose (a registry that
 * breaks mid-copy). `fail(req)` sees every request. `status` 404 answers as a registry that does not
 * have the manifest (MANIFEST_UNKNOWN) instead of failing.
 */
export async function startFaultProxy(upstream: string, fail: (req: IncomingMessage) => boolean, status: 500 | 404 = 500): Promise<FaultProxy> {
  const target = new URL(upstream);
  const proxy: FaultProxy = { host: '', failures: 0, broken: true, stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (proxy.broken && fail(req)) {
      proxy.failures++;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ errors: [status === 404 ? { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown (injected)' } : { code: 'UNKNOWN', message: 'injected fault' }] }));
      return;
    }
    const forward = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        // Location headers point at the upstream; rewrite them to come back through the proxy.
        const headers = { ...up.headers };
        if (typeof headers.location === 'string') headers.location = headers.location.replace(target.origin, `http://${proxy.host}`);
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    forward.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy.host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
