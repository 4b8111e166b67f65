import assert from 'node:assert/strict';
import test from 'node:test';
import { greet } from '../src/index.mjs';

test('greet', () => assert.equal(greet('forge'), 'hello, forge'));
