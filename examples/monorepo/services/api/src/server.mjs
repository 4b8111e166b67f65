import { createServer } from 'node:http';

/** The demo API: answers every request with a JSON greeting. */
export function handler(_req, res) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ message: 'hello from api' }));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  createServer(handler).listen(Number(process.env.PORT ?? 8080));
}
