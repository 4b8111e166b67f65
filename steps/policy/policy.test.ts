import { describe, expect, it } from 'vitest';
import type { ResolvedImage } from '../lib/image-info.ts';
import { parseSize } from '../lib/size.ts';
import { checkPinned, checkSize, checkTag, formatBytes } from './checks.ts';
import { DEFAULT_MAX_COMPRESSED_BYTES, evaluatePolicy, policyError } from './policy.ts';

const D = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const image = (over: Partial<ResolvedImage> = {}): ResolvedImage => ({
  requested: '127.0.0.1:5000/team/app:1.0.0',
  repository: '127.0.0.1:5000/team/app',
  digest: D,
  reference: `127.0.0.1:5000/team/app@${D}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  index: false,
  platforms: [{ platform: 'default', digest: D, compressedSize: 1000, user: '1000' }],
  ...over,
});

describe('size: compressed bytes per platform image, at most the limit', () => {
  it('passes at the limit and fails one byte over, saying both', () => {
    expect(checkSize(1024, 1024)).toEqual({ check: 'size', passed: true, required: '≤ 1.0 KiB compressed', actual: '1.0 KiB compressed (1024 bytes)' });
    expect(checkSize(1025, 1024, 'linux/arm64')).toEqual({ check: 'size', passed: false, required: '≤ 1.0 KiB compressed', actual: '1.0 KiB compressed (1025 bytes)', platform: 'linux/arm64' });
  });

  it('formats bytes in powers of 1024', () => {
    expect([0, 1023, 1024, 1536, 1024 ** 2, 5 * 1024 ** 3, 3 * 1024 ** 4, 2 * 1024 ** 5].map(formatBytes)).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '1.0 MiB', '5.0 GiB', '3.0 TiB', '2048.0 TiB']);
  });

  it('parses the policy size syntax: powers of 1024 and of 1000, decimals, bare bytes', () => {
    expect(['2GiB', '500MiB', '1.5KiB', '1GB', '2 MB', '10kb', '1024', '7B'].map(parseSize)).toEqual([2 * 1024 ** 3, 500 * 1024 ** 2, 1536, 1e9, 2e6, 1e4, 1024, 7]);
    expect(parseSize(' 2GiB ')).toBe(2 * 1024 ** 3);
    for (const bad of ['', 'lots', '-1GiB', '1TiB', '1e3', 'GiB']) {
      expect(() => parseSize(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGS', message: `size "${bad}" is not a size like 500MiB or 2GiB` }));
    }
  });
});

describe('not-latest: the reference asked for names a version or a digest', () => {
  it.each([
    ['127.0.0.1:5000/team/app:latest', false, 'tag "latest"'],
    ['127.0.0.1:5000/team/app', false, 'no tag (means "latest")'],
    ['127.0.0.1:5000/team/app:1.0.0', true, 'tag "1.0.0"'],
    ['127.0.0.1:5000/team/app:latest-1', true, 'tag "latest-1"'],
    [`127.0.0.1:5000/team/app@${D}`, true, `digest ${D}`],
    [`127.0.0.1:5000/team/app:latest@${D}`, false, 'tag "latest"'],
  ])('%s → %s', (reference, passed, actual) => {
    expect(checkTag(reference)).toEqual({ check: 'not-latest', passed, required: 'a version tag or a digest, not "latest"', actual });
  });
});

describe('pinned: what is promoted is pinned by a sha256 digest', () => {
  it('passes a digest reference and fails one without', () => {
    expect(checkPinned(`127.0.0.1:5000/team/app@${D}`)).toEqual({ check: 'pinned', passed: true, required: 'reference pinned by sha256 digest', actual: `127.0.0.1:5000/team/app@${D}` });
    expect(checkPinned('127.0.0.1:5000/team/app:1')).toEqual({ check: 'pinned', passed: false, required: 'reference pinned by sha256 digest', actual: '127.0.0.1:5000/team/app:1 (not pinned)' });
  });
});

describe('evaluatePolicy: every check, none short-circuits', () => {
  it('passes a pinned, small, non-root image', () => {
    const r = evaluatePolicy(image(), { maxCompressedBytes: 2000 });
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => [c.check, c.passed, c.platform])).toEqual([
      ['not-latest', true, undefined],
      ['pinned', true, undefined],
      ['size', true, undefined],
      ['non-root', true, undefined],
    ]);
  });

  it('checks size and user of every platform of an index, naming the platform', () => {
    const r = evaluatePolicy(
      image({
        index: true,
        platforms: [
          { platform: 'linux/amd64', digest: D, compressedSize: 100, user: '1000' },
          { platform: 'linux/arm64', digest: D2, compressedSize: 5000, user: '0' },
        ],
      }),
      { maxCompressedBytes: 2000 },
    );
    expect(r.passed).toBe(false);
    expect(r.checks.filter((c) => !c.passed).map((c) => `${c.check} ${c.platform}`)).toEqual(['size linux/arm64', 'non-root linux/arm64']);
    expect(r.checks.filter((c) => c.passed).map((c) => `${c.check} ${c.platform ?? '-'}`)).toEqual(['not-latest -', 'pinned -', 'size linux/amd64', 'non-root linux/amd64']);
  });

  it('lists every failed check in the refusal, with required and actual', () => {
    const img = image({ requested: '127.0.0.1:5000/team/app:latest', platforms: [{ platform: 'default', digest: D, compressedSize: 5000, user: '' }] });
    const e = policyError(img, evaluatePolicy(img, { maxCompressedBytes: 1024 }));
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe('127.0.0.1:5000/team/app:latest breaks 3 promotion policies: not-latest, size, non-root');
    expect(e.details).toEqual([
      { field: 'not-latest', message: 'required a version tag or a digest, not "latest"; actual tag "latest"' },
      { field: 'size', message: 'required ≤ 1.0 KiB compressed; actual 4.9 KiB compressed (5000 bytes)' },
      { field: 'non-root', message: expect.stringMatching(/^required a non-root user: .*; actual no USER set \(runs as root\)$/) },
    ]);
    const one = image({ platforms: [{ platform: 'linux/amd64', digest: D, compressedSize: 1, user: '0' }], index: true });
    expect(policyError(one, evaluatePolicy(one, { maxCompressedBytes: 10 })).message).toBe('127.0.0.1:5000/team/app:1.0.0 breaks 1 promotion policy: non-root');
    expect(policyError(one, evaluatePolicy(one, { maxCompressedBytes: 10 })).details[0]!.field).toBe('non-root (linux/amd64)');
  });

  it('defaults to 2 GiB', () => {
    expect(DEFAULT_MAX_COMPRESSED_BYTES).toBe(2 * 1024 ** 3);
  });
});
