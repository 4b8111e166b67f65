import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../test/helpers/images.ts';
import { failure } from '../../test/helpers/forge-error.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { generateKeyPair, signatureTag, signImage } from '../lib/cosign.ts';
import { copy } from '../lib/crane.ts';
import { verifySignature } from './verify.ts';

/** The verify gate against a real registry, with keys made and signatures written by the real cosign. */
let registry: Registry;
let work: string;
let devKey: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };
let counter = 0;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-verify-test-'));
  [devKey, otherKey] = await Promise.all([generateKeyPair(await mkdtemp(join(work, 'dev-'))), generateKeyPair(await mkdtemp(join(work, 'other-')))]);
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** An image pushed to the registry, signed with `key` (none: unsigned). */
async function image(key: string | 'none' = devKey.privateKey) {
  const repository = `${registry.host}/team/app-${++counter}`;
  const digest = await buildImage(`${repository}:1`, { user: '1000' });
  const reference = `${repository}@${digest}`;
  if (key !== 'none') await signImage(reference, { key, transparencyLog: false });
  return { repository, digest, reference };
}

const policy = (over: Partial<Parameters<typeof verifySignature>[1]> = {}) => ({ key: devKey.publicKey, transparencyLog: false, ...over });

describe('verifySignature: a cosign signature over this digest, by the configured key', () => {
  it('accepts the signature, naming the signer by its label, or by the key without one', async () => {
    const i = await image();
    expect(await verifySignature(i.reference, policy({ label: 'developers (sha256:abc)' }))).toEqual({
      digest: i.digest,
      signer: 'developers (sha256:abc)',
      signatures: 1,
      transparencyLog: false,
    });
    expect(await verifySignature(i.reference, policy())).toEqual({ digest: i.digest, signer: devKey.publicKey, signatures: 1, transparencyLog: false });
  });

  it('an image signed by two keys verifies with each, counting only that key\'s signatures', async () => {
    const i = await image();
    await signImage(i.reference, { key: otherKey.privateKey, transparencyLog: false });
    expect(await verifySignature(i.reference, policy())).toMatchObject({ signer: devKey.publicKey, signatures: 1 });
    expect(await verifySignature(i.reference, policy({ key: otherKey.publicKey, label: 'other' }))).toMatchObject({ signer: 'other', signatures: 1 });
  });

  it('refuses an unsigned image and one signed by another key', async () => {
    for (const key of ['none', otherKey.privateKey]) {
      const i = await image(key);
      const e = await failure(verifySignature(i.reference, policy({ label: 'developers' })));
      expect(e.code).toBe('SIGNATURE_INVALID');
      expect(e.message).toMatch(new RegExp(`^signature verification failed for ${i.reference.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
  });

  it.each(['team/app:1', 'team/app', 'team/app@'])('refuses %j: only a digest reference is verified, before cosign runs', async (ref) => {
    const e = await failure(verifySignature(`${registry.host}/${ref}`, policy()));
    expect(e.code).toBe('INVALID_ARGS');
    expect(e.message).toBe(`verify needs a digest reference, got ${registry.host}/${ref}`);
  });

  it('a tag whose image is signed is still refused: the digest is what was resolved', async () => {
    const i = await image();
    const e = await failure(verifySignature(`${i.repository}:1`, policy()));
    expect(e.code).toBe('INVALID_ARGS');
  });

  it("cosign refuses another image's signature moved under this digest's tag (what the digest re-check repeats)", async () => {
    // A submitter controls the incoming registry: B's valid signature copied to A's .sig tag
    // is a signature by the right key, but its payload claims B's digest.
    const a = await image('none');
    const b = await image();
    await copy(`${b.repository}:${signatureTag(b.digest, 'sig')}`, `${a.repository}:${signatureTag(a.digest, 'sig')}`);
    const e = await failure(verifySignature(a.reference, policy()));
    expect(e.code).toBe('SIGNATURE_INVALID');
    expect(e.message).toBe(`signature verification failed for ${a.reference}: no matching signatures: invalid or missing digest in claim: ${b.digest}`);
  });
});
