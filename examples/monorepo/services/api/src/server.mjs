import { createServer } from 'node:http';

/** The demo API: `/healthz` answers the readiness probe, every other path a JSON greeting. */
export function handler(req, res) {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/healthz') {
    res.end(JSON.stringify({ status: 'ok' }));
    return;
  }
  res.end(JSON.stringify({ message: 'hello from api' }));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const server = createServer(handler).listen(Number(process.env.PORT ?? 8080), () => console.log(`api listening on ${server.address().port}`));
  // As PID 1 in a container, node gets no default SIGTERM handling: stop cleanly on it.
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
}
