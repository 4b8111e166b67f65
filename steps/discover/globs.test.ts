import { describe, expect, it } from 'vitest';
import { ForgeError } from '../lib/errors.ts';
import { compileGlobs, translate } from './globs.ts';

const matches = (glob: string, path: string) => compileGlobs([glob])(path);

describe('--paths globs on RE2', () => {
  it('match the way picomatch did for the common forms', () => {
    const cases: [string, string, boolean][] = [
      ['services/**', 'services', true],
      ['services/**', 'services/api', true],
      ['services/**', 'services/a/b', true],
      ['services/**', 'servicesx/a', false],
      ['**', 'a/b', true],
      ['*', 'a/b', false],
      ['services/*', 'services/a/b', false],
      ['**/api', 'services/api', true],
      ['**/api', 'api', true],
      ['**/api', 'services/xapi', false],
      ['s*/a?i', 'services/api', true],
      ['{libs,services}/**', 'libs/common', true],
      ['{libs,services}/**', 'tools/x', false],
      ['services/[ab]*', 'services/api', true],
      ['services/[!ab]*', 'services/api', false],
      ['.*/**', '.hidden/x', true],
      ['./services/**', 'services/api', true],
      ['a/**/b', 'a/b', true],
      ['a/**/b', 'a/x/y/b', true],
      ['!services/**', 'libs/x', true],
      ['!services/**', 'services/x', false],
      ['a.b', 'axb', false],
      ['a+(b)', 'a+(b)', true],
      ['{a,b', '{a,b', true],
    ];
    for (const [glob, path, expected] of cases) expect([glob, path, matches(glob, path)]).toEqual([glob, path, expected]);
  });

  it('run in linear time: a glob that made picomatch backtrack for minutes answers at once', () => {
    const glob = `x/${'*a'.repeat(12)}*b`;
    expect(translate(glob)).toBe(`x/${'[^/]*a'.repeat(12)}[^/]*b`);
    const started = performance.now();
    expect(matches(glob, `x/${'a'.repeat(250)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('are bounded and refused with the glob named', () => {
    const refusal = (globs: string[]) => {
      try {
        compileGlobs(globs);
      } catch (e) {
        expect(e).toBeInstanceOf(ForgeError);
        return (e as ForgeError).format();
      }
      return 'accepted';
    };
    expect(refusal(Array.from({ length: 33 }, () => 'a'))).toBe('INVALID_ARGS: invalid path filter\n  --paths: 33 globs, at most 32 are allowed');
    expect(refusal(['a'.repeat(257)])).toMatch(/--paths: glob "a{257}" is longer than 256 characters/);
    expect(refusal(['a\nb'])).toBe('INVALID_ARGS: invalid path filter\n  --paths: glob "a\\nb" has control characters');
    expect(refusal(['[z-a]'])).toMatch(/^INVALID_ARGS: --paths glob "\[z-a\]" is not a valid glob: .*invalid character class range/);
  });
});
