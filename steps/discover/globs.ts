import { RE2JS } from 're2js';
import { ForgeError } from '../lib/errors.ts';
import { checkGlobs, printable } from './limits.ts';

/**
 * `--paths` globs, matched against project directories on RE2 (re2js) in linear time. A glob is
 * translated to an RE2 expression rather than handed to a backtracking matcher: picomatch's
 * regular expressions backtrack, and `x/*a*a*a*a*a*a*a*a*a*a*a*a*b` (29 characters) against a
 * 62-character path ran for more than a minute. The syntax is the common one:
 *
 * - `*` any characters except `/`; `?` one character except `/`; `[abc]`, `[a-z]`, `[!abc]`;
 * - `**` as a whole segment: any number of segments (`services/**` also matches `services`);
 * - `{a,b}` alternatives (nestable); `\x` a literal `x`; a leading `./` is ignored;
 * - a leading `!` negates the glob. Dotfiles are matched like any other name.
 */
export function compileGlobs(globs: string[]): (path: string) => boolean {
  checkGlobs(globs);
  const compiled = globs.map((glob) => {
    const negated = glob.startsWith('!');
    const body = (negated ? glob.slice(1) : glob).replace(/^(\.\/)+/, '');
    try {
      return { negated, re: RE2JS.compile(`^(?:${translate(body)})$`) };
    } catch (e) {
      throw new ForgeError('INVALID_ARGS', `--paths glob "${printable(glob)}" is not a valid glob: ${(e as Error).message}`);
    }
  });
  return (path) => compiled.some(({ negated, re }) => re.matches(path) !== negated);
}

function escape(c: string): string {
  return /[A-Za-z0-9_/-]/.test(c) ? c : `\\${c}`;
}

/** Glob → RE2 source. Unbalanced `[` or `{` are literals. */
export function translate(glob: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const atSegmentStart = i === 0 || glob[i - 1] === '/';
    if (c === '*' && glob[i + 1] === '*' && atSegmentStart && (i + 2 === glob.length || glob[i + 2] === '/')) {
      if (i + 2 === glob.length) {
        // `a/**` → `a` and everything below it; `**` alone → anything.
        out = out.endsWith('/') ? `${out.slice(0, -1)}(?:/.*)?` : `${out}.*`;
        i += 1;
      } else {
        out += '(?:.*/)?'; // `**/` → zero or more whole segments
        i += 2;
      }
    } else if (c === '*') {
      while (glob[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escape(glob[++i]!);
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, close);
      const negate = set.startsWith('!') || set.startsWith('^');
      if (negate) set = set.slice(1);
      out += `[${negate ? '^/' : ''}${[...set].map((ch) => (ch === '-' ? '-' : escape(ch))).join('')}]`;
      i = close;
    } else if (c === '{' && hasClosingBrace(glob, i)) {
      braces++;
      out += '(?:';
    } else if (c === ',' && braces > 0) {
      out += '|';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else {
      out += escape(c);
    }
  }
  return out;
}

function hasClosingBrace(glob: string, open: number): boolean {
  let depth = 0;
  for (let i = open; i < glob.length; i++) {
    if (glob[i] === '\\') i++;
    else if (glob[i] === '{') depth++;
    else if (glob[i] === '}' && --depth === 0) return true;
  }
  return false;
}
