import assert from 'node:assert/strict';
import test from 'node:test';
import { work } from '../src/worker.mjs';

test('work marks a job done', () => assert.deepEqual(work({ id: 7 }), { id: 7, done: true }));
