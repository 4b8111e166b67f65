import { expect } from 'vitest';
import { ForgeError } from '../../steps/lib/errors.ts';

/** Awaits a promise that must reject with a ForgeError, and returns that error. */
export async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForgeError);
  return e as ForgeError;
}

/** Runs `fn`, which must throw a ForgeError, and returns that error. */
export function thrown(fn: () => unknown): ForgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('nothing thrown');
}
