import assert from 'node:assert/strict';
import test from 'node:test';
import { handler } from '../src/server.mjs';

test('handler answers with JSON', () => {
  let body = '';
  handler({}, { setHeader() {}, end(b) { body = b; } });
  assert.deepEqual(JSON.parse(body), { message: 'hello from api' });
});

test('handler answers the readiness probe on /healthz', () => {
  let body = '';
  handler({ url: '/healthz' }, { setHeader() {}, end(b) { body = b; } });
  assert.deepEqual(JSON.parse(body), { status: 'ok' });
});
