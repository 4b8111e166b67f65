import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildImageWithFiles } from '../../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../../test/helpers/registry.ts';
import { manifestOf } from '../crane.ts';
import { runTool } from '../exec.ts';
import { BINARY_ARTIFACT, publishFile, publishImageLayout } from './publish-oci.ts';

// The oci publisher on a real registry: idempotent by digest, never replacing what a tag holds.
let registry: Registry;
let tmp: string;

beforeAll(async () => {
  registry = await startRegistry();
  tmp = await mkdtemp(join(tmpdir(), 'forge-publish-'));
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('oci publisher', () => {
  test('a binary: pushed once with its os/arch, the same bytes again reused, other bytes under the tag refused', async () => {
    const file = join(tmp, 'forge-cli');
    await writeFile(file, Buffer.from('\x7fELF pretend binary'));
    const ref = `${registry.host}/artifacts/acme/cli:sha-${'e'.repeat(40)}`;
    const first = await publishFile(ref, file, { type: 'binary', os: 'linux', arch: 'amd64' });
    expect(first).toMatchObject({ reused: false, uri: `${registry.host}/artifacts/acme/cli@${first.digest}` });
    const { manifest } = await manifestOf(ref);
    expect(manifest).toMatchObject({ artifactType: BINARY_ARTIFACT, layers: [{ mediaType: 'application/octet-stream', annotations: { 'org.opencontainers.image.title': 'forge-cli', 'org.catalyst-forge.os': 'linux', 'org.catalyst-forge.arch': 'amd64' } }] });
    expect(await publishFile(ref, file, { type: 'binary', os: 'linux', arch: 'amd64' })).toEqual({ ...first, reused: true });
    await writeFile(file, Buffer.from('\x7fELF another build'));
    await expect(publishFile(ref, file, { type: 'binary', os: 'linux', arch: 'amd64' })).rejects.toThrow(new RegExp(`${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds ${first.digest}, not this artifact's sha256:[0-9a-f]{64}: a published artifact is never replaced`));
  });

  test("a container: the producer's OCI image layout pushed as it is, then reused", async () => {
    const built = `${registry.host}/build/api:tmp`;
    await buildImageWithFiles(built, [{ 'app/server.js': 'console.log(1)\n' }]);
    const layout = join(tmp, 'layout');
    await runTool('crane', ['pull', '--insecure', '--format', 'oci', built, layout]);
    const ref = `${registry.host}/incoming/acme/api-server:sha-${'f'.repeat(40)}`;
    const first = await publishImageLayout(ref, layout);
    expect(first.reused).toBe(false);
    expect((await runTool('crane', ['digest', '--insecure', ref])).stdout.trim()).toBe(first.digest);
    expect(await publishImageLayout(ref, layout)).toEqual({ ...first, reused: true });
    await expect(publishImageLayout(ref, tmp)).rejects.toThrow(/not an OCI image layout holding one image/);
  }, 60_000);
});
