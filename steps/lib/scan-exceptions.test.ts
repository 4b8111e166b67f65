import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { ForgeError } from './errors.ts';
import { expiresAt, fieldOf, loadExceptions, parseExceptions, validateExceptions } from './scan-exceptions.ts';

/**
 * The vulnerability exceptions format on its own: which entries are accepted, and for each refusal
 * the exact message and where it points (file, line, column, field). How the gate applies valid
 * exceptions is in steps/scan/gate.test.ts.
 */
function refusal(fn: () => unknown): ForgeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('expected a ForgeError, nothing was thrown');
}
/** `line:column field: message` of each detail of a refused exceptions file. */
const problems = (text: string) => refusal(() => parseExceptions(text, 'ex.yaml')).details.map((d) => `${d.line}:${d.column} ${d.field}: ${d.message}`);
const entry = (e: object) => ({ id: 'CVE-1', reason: 'accepted', expires: '2099-01-01', ...e });

describe('expiry dates', () => {
  it.each(['2025-06-30', '2024-02-29', '2000-02-29', '2025-12-31', '2025-06-30T12:00:00Z', '2025-06-30T12:00Z', '2025-06-30T12:00:00.5+02:00', '2024-02-29T23:59:59Z'])('%s is accepted', (expires) => {
    expect(validateExceptions([entry({ expires })])).toEqual([entry({ expires })]);
  });

  it.each(['2025-06-30T25:00:00Z', '2025-06-30T12:60:00Z', '2025-06-30T12:00:00+24:00', '2025-6-30', '2025-06-30T12:00:00', '2025/06/30', 'June 30, 2025', '30.06.2025', 'next year', ''])(
    '%j is refused',
    (expires) => {
      expect(refusal(() => validateExceptions([entry({ expires })])).details.map((d) => d.message)).toEqual([
        'entry 0 (CVE-1): expires must be an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)',
      ]);
    },
  );

  it.each([
    ['2025-02-30', '2025-02 has 28 days'],
    ['2025-02-29', '2025-02 has 28 days'],
    ['2100-02-29', '2100-02 has 28 days'],
    ['2025-04-31', '2025-04 has 30 days'],
    ['2025-06-00', '2025-06 has 30 days'],
    ['2025-01-32', '2025-01 has 31 days'],
    ['2025-13-01', 'there is no month 13'],
    ['2025-00-10', 'there is no month 00'],
    // Date.parse rolls these over to 2 March, 1 March and 1 May: the day must exist as written.
    ['2025-02-30T10:00:00Z', '2025-02 has 28 days'],
    ['2100-02-29T10:00:00+01:00', '2100-02 has 28 days'],
    ['2025-04-31T00:00Z', '2025-04 has 30 days'],
    ['2025-13-01T10:00:00Z', 'there is no month 13'],
  ])('%j is refused: not a calendar date (%s), naming the exception and the field', (expires, why) => {
    expect(refusal(() => validateExceptions([entry({}), entry({ id: 'CVE-2', expires })])).details).toEqual([
      { field: 'exceptions[1].expires', message: `entry 1 (CVE-2): expires ${expires} is not a calendar date: ${why}` },
    ]);
  });

  it('a date runs to the end of that day (UTC); a date-time to its instant', () => {
    expect(expiresAt('2025-06-30')).toBe(Date.parse('2025-07-01T00:00:00Z'));
    expect(expiresAt('2025-12-31')).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(expiresAt('2025-06-30T12:00:00+02:00')).toBe(Date.parse('2025-06-30T10:00:00Z'));
  });

  it('a date given in code as a Date is kept as the date, or the instant, it is', () => {
    const given = (expires: unknown) => validateExceptions([entry({ expires })])[0]!.expires;
    expect(given(new Date('2026-03-31T00:00:00Z'))).toBe('2026-03-31');
    expect(given(new Date('2026-03-31T12:30:00Z'))).toBe('2026-03-31T12:30:00.000Z');
    expect(refusal(() => given(new Date('not a date'))).details.map((d) => d.message)).toEqual(['entry 0 (CVE-1): expires must be a string']);
  });
});

describe('validateExceptions (entries given in code)', () => {
  it('trims the strings and leaves out a package that is not given', () => {
    expect(validateExceptions([{ id: ' CVE-1 ', package: ' openssl ', reason: ' r ', expires: ' 2099-01-01 ' }, entry({})])).toStrictEqual([
      { id: 'CVE-1', package: 'openssl', reason: 'r', expires: '2099-01-01' },
      { id: 'CVE-1', reason: 'accepted', expires: '2099-01-01' },
    ]);
    expect(validateExceptions(null)).toEqual([]);
    expect(validateExceptions(undefined)).toEqual([]);
  });

  it('names each entry by index and id, and says which field is missing, empty or not a string', () => {
    const e = refusal(() =>
      validateExceptions([{ reason: 'r', expires: '2099-01-01' }, { id: 'CVE-2', reason: null, expires: 20990101 }, { id: 5, reason: 'r', expires: '2099-01-01' }, entry({ id: ' ', package: '' })]),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toBe('invalid vulnerability exceptions (every exception needs an id, a reason and an expiry date)');
    expect(e.details).toEqual([
      { field: 'exceptions[0].id', message: 'entry 0: id is required: the CVE or GHSA id the exception accepts' },
      { field: 'exceptions[1].reason', message: 'entry 1 (CVE-2): reason is required: say why the vulnerability is accepted' },
      { field: 'exceptions[1].expires', message: 'entry 1 (CVE-2): expires must be a string' },
      { field: 'exceptions[2].id', message: 'entry 2: id must be a string' },
      { field: 'exceptions[3].id', message: 'entry 3 ( ): id is empty: give the CVE or GHSA id' },
      { field: 'exceptions[3].package', message: 'entry 3 ( ): package is empty: leave it out to accept the id in every package' },
    ]);
  });

  it('one wrong field is "exception", singular; more are "exceptions"', () => {
    expect(refusal(() => validateExceptions([entry({ expires: 'soon' })])).message).toBe('invalid vulnerability exception (every exception needs an id, a reason and an expiry date)');
    expect(refusal(() => validateExceptions([entry({ expires: 'soon' }), entry({ expires: 'later' })])).message).toMatch(/^invalid vulnerability exceptions \(/);
  });

  it('refuses entries that are not mappings, unknown keys, and a list that is not a list', () => {
    expect(refusal(() => validateExceptions(['CVE-1', null, entry({ expiry: 'x', owner: 'me' })])).details).toEqual([
      { field: 'exceptions[0]', message: 'entry 0: an exception must be a mapping with id, reason and expires' },
      { field: 'exceptions[1]', message: 'entry 1: an exception must be a mapping with id, reason and expires' },
      { field: 'exceptions[2]', message: 'entry 2 (CVE-1): unknown key(s) "expiry", "owner" (allowed: id, package, reason, expires)' },
    ]);
    expect(refusal(() => validateExceptions('CVE-1')).details).toEqual([{ field: 'exceptions', message: 'exceptions must be a list' }]);
  });
});

describe('parseExceptions (a file)', () => {
  it('reads the exceptions mapping, a bare list, JSON, and empty files', () => {
    const one = [{ id: 'CVE-1', reason: 'r', expires: '2099-01-01' }];
    expect(parseExceptions('exceptions:\n  - id: CVE-1\n    reason: r\n    expires: 2099-01-01\n', 'a.yaml')).toEqual(one);
    expect(parseExceptions('- id: CVE-1\n  reason: r\n  expires: 2099-01-01\n', 'b.yaml')).toEqual(one);
    expect(parseExceptions(JSON.stringify({ exceptions: one }), 'c.json')).toEqual(one);
    expect(parseExceptions('# nothing accepted yet\n', 'd.yaml')).toEqual([]);
  });

  it('points at the line and column of each problem, in a mapping or a bare list', () => {
    expect(problems('exceptions:\n  - id: CVE-1\n    reason: r\n    expires: 2099-01-01\n  - id: CVE-2\n    expires: 2099-13-01\n')).toEqual([
      // A missing key points at its entry.
      '5:5 exceptions[1].reason: entry 1 (CVE-2): reason is required: say why the vulnerability is accepted',
      '6:14 exceptions[1].expires: entry 1 (CVE-2): expires 2099-13-01 is not a calendar date: there is no month 13',
    ]);
    expect(problems('- id: CVE-1\n  reason:\n  expires: 2099-01-01\n  owner: me\n')).toEqual([
      '2:10 exceptions[0].reason: entry 0 (CVE-1): reason is required: say why the vulnerability is accepted',
      // An unknown key points at its line (its value).
      '4:10 exceptions[0]: entry 0 (CVE-1): unknown key(s) "owner" (allowed: id, package, reason, expires)',
    ]);
    // Several unknown keys: the first one's value, not a key of the same name inside it.
    expect(problems('- id: CVE-1\n  reason: r\n  expires: 2099-01-01\n  owner:\n    team: a\n  team: b\n')).toEqual([
      '5:5 exceptions[0]: entry 0 (CVE-1): unknown key(s) "owner", "team" (allowed: id, package, reason, expires)',
    ]);
  });

  it('refuses a document that is neither a mapping with "exceptions" nor a list, pointing at it', () => {
    expect(problems('\n\n"CVE-1"\n')).toEqual(['3:1 : expected a mapping with "exceptions" or a list of exceptions']);
    expect(problems('# accepted\nexception: []\nowners: [me]\n')).toEqual(['2:12 : unknown top-level key(s) "exception", "owners" (expected "exceptions")']);
    expect(problems('exceptions:\n  id: CVE-1\n')).toEqual(['2:3 exceptions: exceptions must be a list']);
    const e = refusal(() => parseExceptions('exceptions: 5\n', 'ex.yaml'));
    expect(e.toJSON()).toEqual({
      code: 'INVALID_CONFIG',
      message: 'ex.yaml: invalid vulnerability exception (every exception needs an id, a reason and an expiry date)',
      details: [{ file: 'ex.yaml', line: 1, column: 13, field: 'exceptions', message: 'exceptions must be a list' }],
    });
  });

  it('refuses broken YAML with the parser message and position of each error', () => {
    expect(refusal(() => parseExceptions('exceptions:\n  - id: CVE-1\n    id: CVE-2\n', 'ex.yaml')).toJSON()).toEqual({
      code: 'INVALID_CONFIG',
      message: 'ex.yaml is not valid YAML or JSON',
      details: [{ file: 'ex.yaml', line: 3, column: 5, message: 'Map keys must be unique' }],
    });
    expect(refusal(() => parseExceptions('x: [1, 2\ny: }\n', 'ex.yaml')).details.map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      '2:1 Flow sequence in block collection must be sufficiently indented and end with a ]',
      '2:4 Unexpected flow-map-end token in YAML stream: "}"',
    ]);
  });
});

describe('loadExceptions', () => {
  it('reads a file, and names the file and the flag when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-exceptions-test-'));
    try {
      const file = join(dir, 'exceptions.yaml');
      await writeFile(file, '- id: CVE-1\n  reason: r\n  expires: 2099-01-01\n');
      expect(await loadExceptions(file)).toEqual([{ id: 'CVE-1', reason: 'r', expires: '2099-01-01' }]);
      const missing = join(dir, 'missing.yaml');
      expect((await failure(loadExceptions(missing))).toJSON()).toEqual({
        code: 'INVALID_ARGS',
        message: `cannot read the exceptions file ${missing}: ENOENT`,
        details: [{ file: missing, message: 'check the --exceptions path' }],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('fieldOf', () => {
  it('writes a zod path the way a person reads it', () => {
    expect([fieldOf([]), fieldOf(['exceptions']), fieldOf(['exceptions', 3, 'reason']), fieldOf([0, 'id']), fieldOf(['a', 'b'])]).toEqual(['', 'exceptions', 'exceptions[3].reason', '[0].id', 'a.b']);
  });
});
