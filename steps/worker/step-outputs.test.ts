import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { collectOutputs, MAX_OUTPUT_FILES, MAX_OUTPUTS_BYTES } from './step-outputs.ts';
import { failure } from '../../test/helpers/forge-error.ts';

// A phase's outputs as the steps leave them in FORGE_OUTPUTS_DIR: regular files with plain
// names, bounded in count and size.
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forge-outputs-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const files = (entries: Record<string, string>) => Promise.all(Object.entries(entries).map(([n, c]) => writeFile(join(dir, n), c)));
const refusal = (name: string) => `FORGE_OUTPUTS_DIR/${name}: outputs must be regular files with plain names (letters, digits, . _ -)`;

describe('collectOutputs', () => {
  test('an empty directory has no outputs', async () => {
    expect(await collectOutputs(dir)).toEqual({});
  });

  test('collects regular files by name, with their content', async () => {
    const long = `a${'b'.repeat(127)}`;
    await files({ 'image-digest': 'sha256:abc\n', 'report.v1_final.json': '{"ok":true}', [long]: '', 'Z9': 'ünïcødé' });
    expect(await collectOutputs(dir)).toEqual({ 'image-digest': 'sha256:abc\n', 'report.v1_final.json': '{"ok":true}', [long]: '', Z9: 'ünïcødé' });
  });

  test('a symlink is refused, even to a regular file beside it', async () => {
    await files({ 'real.txt': 'x' });
    await symlink(join(dir, 'real.txt'), join(dir, 'link.txt'));
    const e = await failure(collectOutputs(dir));
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toBe(refusal('link.txt'));
  });

  test('a symlink out of the directory is refused before it is read', async () => {
    await symlink('/etc/hostname', join(dir, 'hostname'));
    const e = await failure(collectOutputs(dir));
    expect(e.message).toBe(refusal('hostname'));
  });

  test('a directory is refused', async () => {
    await mkdir(join(dir, 'sub'));
    expect((await failure(collectOutputs(dir))).message).toBe(refusal('sub'));
  });

  test.each(['.hidden', '-dash', 'with space', 'semi;colon', 'é', `a${'b'.repeat(128)}`])('the name %j is refused', async (name) => {
    await files({ ok: 'fine', [name]: 'x' });
    const e = await failure(collectOutputs(dir));
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toBe(refusal(name));
  });

  test(`${MAX_OUTPUT_FILES} files are fine, one more is refused`, async () => {
    await files(Object.fromEntries(Array.from({ length: MAX_OUTPUT_FILES }, (_, i) => [`f${i}`, String(i)])));
    expect(Object.keys(await collectOutputs(dir))).toHaveLength(MAX_OUTPUT_FILES);
    await files({ extra: 'x' });
    const e = await failure(collectOutputs(dir));
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toBe(`the steps left ${MAX_OUTPUT_FILES + 1} files in FORGE_OUTPUTS_DIR (at most ${MAX_OUTPUT_FILES})`);
  });

  test('exactly the byte limit is fine, one byte more is refused at the file that crosses it', async () => {
    expect(MAX_OUTPUTS_BYTES).toBe(16 * 1024 * 1024);
    const half = MAX_OUTPUTS_BYTES / 2;
    await files({ a: 'a'.repeat(half), b: 'b'.repeat(half) });
    const out = await collectOutputs(dir);
    expect(out.a!.length + out.b!.length).toBe(MAX_OUTPUTS_BYTES);
    await files({ c: 'c' });
    const e = await failure(collectOutputs(dir));
    expect(e.code).toBe('OUTPUT_TOO_LARGE');
    expect(e.message).toBe('the outputs in FORGE_OUTPUTS_DIR exceed 16 MiB (at c)');
  });

  test('a single oversized file is refused', async () => {
    await files({ big: 'x'.repeat(MAX_OUTPUTS_BYTES + 1) });
    expect((await failure(collectOutputs(dir))).message).toBe('the outputs in FORGE_OUTPUTS_DIR exceed 16 MiB (at big)');
  });
});
