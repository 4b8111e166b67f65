import { describe, expect, it } from 'vitest';
import { ForgeError } from './errors.ts';
import { pick } from './promotion-settings.ts';

/** Names every plain object answers to through its prototype. */
const INHERITED = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf', '__defineGetter__'];

const caught = (fn: () => unknown): ForgeError => {
  try {
    fn();
  } catch (e) {
    return e as ForgeError;
  }
  throw new Error('nothing thrown');
};

describe('pick: setting names are own keys only', () => {
  const map = { default: { threshold: 'HIGH' } };
  it.each(INHERITED)('"%s" names nothing unless configured', (name) => {
    const e = caught(() => pick(map, name, 'scan policy'));
    expect(e).toBeInstanceOf(ForgeError);
    expect(e.format()).toBe(`INVALID_ARGS: unknown scan policy "${name}" (configured: default)`);
  });

  it('finds a configured name, also one that shadows an Object.prototype member', () => {
    expect(pick(map, 'default', 'scan policy')).toEqual({ threshold: 'HIGH' });
    const odd = JSON.parse('{"constructor": {"threshold": "LOW"}}') as Record<string, { threshold: string }>;
    expect(pick(odd, 'constructor', 'scan policy')).toEqual({ threshold: 'LOW' });
  });
});

