import { describe, expect, it } from 'vitest';
import { parseInput, promotionInputSchema, refusalInputSchema } from './rows.ts';
import { thrown } from '../../../test/helpers/forge-error.ts';

/** The records' input validation on its own (records.test.ts writes through it to real databases). */

const digest = (c: string) => `sha256:${c.repeat(64)}`;


describe('parseInput: every problem, named by its field', () => {
  it('joins nested fields with dots and problems with "; "', () => {
    const e = thrown(() => parseInput(promotionInputSchema, { trustedRepository: 'r.example.test/app', digest: 'sha256:x', sourceReference: 's', signer: { key: { at: Symbol('x') } } }, 'promotion record'));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.details.map((d) => d.field)).toEqual(['digest', 'signer.key']);
    expect(e.message).toBe(`invalid promotion record: digest: ${e.details[0]!.message}; signer.key: ${e.details[1]!.message}`);
    expect(e.details[0]!.message).toBe('digest must be sha256:<64 lowercase hex characters>, got "sha256:x"');
  });

  it('a problem with the whole input has no field', () => {
    const e = thrown(() => parseInput(refusalInputSchema, 'not an object', 'refusal record'));
    expect(e.details).toEqual([{ message: expect.any(String) }]);
    expect(e.message).toBe(`invalid refusal record: ${e.details[0]!.message}`);
  });
});

describe('optional text: empty or blank (how Argo passes "not set") is absent, the rest is trimmed', () => {
  it.each([
    ['', undefined],
    ['   ', undefined],
    [' scan ', 'scan'],
    [undefined, undefined],
  ])('%j -> %j', (given, expected) => {
    const parsed = parseInput(refusalInputSchema, { sourceReference: 's', message: 'm', check: given, workflowName: given, workflowUid: given, digest: digest('a') }, 'refusal record');
    expect(parsed.check).toBe(expected);
    expect(parsed.workflowName).toBe(expected);
    expect(parsed.workflowUid).toBe(expected);
  });
});
