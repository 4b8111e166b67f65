import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ForgeError } from '../../steps/lib/errors.ts';
import {
  checkClaims,
  parseSimpleSigningPayload,
  readContainersImageSignature,
  SIMPLE_SIGNING_MEDIA_TYPE,
  simpleSigningSignature,
  verifySimpleSignature,
  verifySimpleSigning,
} from './simple-signing.ts';

// Made by test/fixtures/cosign/make.ts with the real cosign (generate-key-pair, generate, sign-blob).
const dir = new URL('../fixtures/cosign/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, dir));
const text = (name: string): string => fixture(name).toString('utf8');

const publicKeyPem = text('cosign.pub');
const otherKeyPem = text('other.pub');
const manifest = fixture('manifest.json');
const payload = fixture('payload.json');
const signatureB64 = text('payload.sig').trim();
const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

function thrown(f: () => unknown): ForgeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('expected a ForgeError, nothing was thrown');
}

describe('verifySimpleSignature (cosign sign-blob vectors)', () => {
  it("accepts cosign's signature over the payload with the signer's key", () => {
    expect(verifySimpleSignature({ payload, signatureB64, publicKeyPem })).toEqual({ ok: true, keyType: 'ECDSA P-256' });
  });

  it('refuses a payload changed after signing (one byte)', () => {
    const tampered = Buffer.from(payload);
    const at = tampered.indexOf('forge/demo') + 'forge/'.length;
    tampered[at] = 'D'.charCodeAt(0);
    const r = verifySimpleSignature({ payload: tampered, signatureB64, publicKeyPem });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/does not verify with this public key: the payload was changed after signing, or it was signed with a different key/);
  });

  it('refuses the payload re-serialised with different whitespace (the raw bytes are what is signed)', () => {
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(payload.toString('utf8')), null, 2));
    expect(verifySimpleSignature({ payload: reformatted, signatureB64, publicKeyPem }).ok).toBe(false);
  });

  it('refuses the signature with another key', () => {
    const r = verifySimpleSignature({ payload, signatureB64, publicKeyPem: otherKeyPem });
    expect(r).toMatchObject({ ok: false, keyType: 'ECDSA P-256' });
  });

  it('refuses an empty annotation, non-base64 text and a key that is not a PEM public key, with the reason', () => {
    expect(verifySimpleSignature({ payload, signatureB64: '', publicKeyPem })).toMatchObject({ ok: false, reason: expect.stringMatching(/annotation is empty/) });
    expect(verifySimpleSignature({ payload, signatureB64: signatureB64.replace(/=+$/, ''), publicKeyPem })).toMatchObject({
      ok: false,
      reason: 'the signature is not standard padded base64',
    });
    expect(verifySimpleSignature({ payload, signatureB64: Buffer.from('not DER').toString('base64'), publicKeyPem }).ok).toBe(false);
    expect(verifySimpleSignature({ payload, signatureB64, publicKeyPem: 'not a key' })).toMatchObject({ ok: false, keyType: '', reason: expect.stringMatching(/not a PEM public key/) });
  });

  it('verifies RSA (PKCS#1 v1.5, SHA-256) and Ed25519 keys as cosign verify-blob does, and refuses other EC curves', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifySimpleSignature({ payload, signatureB64: sign('sha256', payload, rsa.privateKey).toString('base64'), publicKeyPem: rsaPem })).toEqual({ ok: true, keyType: 'RSA-2048' });

    const ed = generateKeyPairSync('ed25519');
    const edPem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifySimpleSignature({ payload, signatureB64: sign(null, payload, ed.privateKey).toString('base64'), publicKeyPem: edPem })).toEqual({ ok: true, keyType: 'Ed25519' });

    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const k1Pem = k1.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifySimpleSignature({ payload, signatureB64: sign('sha256', payload, k1.privateKey).toString('base64'), publicKeyPem: k1Pem })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/secp256k1 are not supported/),
    });
  });
});

describe('parseSimpleSigningPayload', () => {
  it("reads cosign generate's payload", () => {
    expect(parseSimpleSigningPayload(payload)).toEqual({
      critical: {
        identity: { 'docker-reference': 'registry.example/forge/demo' },
        image: { 'docker-manifest-digest': manifestDigest },
        type: 'cosign container image signature',
      },
      optional: null,
    });
  });

  it('keeps optional annotations and accepts a missing optional', () => {
    const withOptional = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    withOptional.optional = { creator: 'forge', timestamp: 1657296609 };
    expect(parseSimpleSigningPayload(JSON.stringify(withOptional)).optional).toEqual({ creator: 'forge', timestamp: 1657296609 });
    delete withOptional.optional;
    expect(parseSimpleSigningPayload(JSON.stringify(withOptional)).optional).toBeNull();
  });

  it('rejects a wrong type string even when cosign signed it', () => {
    const wrong = fixture('wrong-type.json');
    expect(verifySimpleSignature({ payload: wrong, signatureB64: text('wrong-type.sig').trim(), publicKeyPem }).ok).toBe(true);
    const e = thrown(() => parseSimpleSigningPayload(wrong));
    expect(e.code).toBe('SIGNATURE_INVALID');
    expect(e.format()).toMatch(/is not a cosign simple-signing payload/);
    expect(e.details).toEqual([{ field: 'critical.type', message: 'must be "cosign container image signature"' }]);
    const all = thrown(() => verifySimpleSigning({ payload: wrong, signatureB64: text('wrong-type.sig').trim(), publicKeyPem, manifest, label: 'wrong-type.sig' }));
    expect(all.code).toBe('SIGNATURE_INVALID');
  });

  it('names every missing or malformed field, and refuses non-JSON', () => {
    const e = thrown(() => parseSimpleSigningPayload('{"critical":{"image":{"docker-manifest-digest":"634a8f"},"type":"cosign container image signature"}}'));
    expect(e.details.map((d) => d.field)).toEqual(['critical.identity', 'critical.image.docker-manifest-digest']);
    expect(thrown(() => parseSimpleSigningPayload('this is not a signature')).message).toMatch(/is not JSON/);
    // The stale README spelling with capitals is not what cosign writes.
    expect(thrown(() => parseSimpleSigningPayload(payload.toString('utf8').replace('"critical"', '"Critical"'))).details[0]?.field).toBe('critical');
  });
});

describe('checkClaims', () => {
  const parsed = parseSimpleSigningPayload(payload);

  it('passes when the sha256 of the manifest bytes is the signed digest', () => {
    expect(checkClaims(parsed, manifest)).toEqual({ ok: true, claimed: manifestDigest, actual: manifestDigest });
  });

  it('fails for another manifest, naming both digests and what to do', () => {
    const changed = Buffer.from(manifest.toString('utf8').replace('"schemaVersion": 2', '"schemaVersion":2'));
    const actual = `sha256:${createHash('sha256').update(changed).digest('hex')}`;
    const r = checkClaims(parsed, changed);
    expect(r).toMatchObject({ ok: false, claimed: manifestDigest, actual });
    expect(!r.ok && r.reason).toBe(
      `the signature is for manifest ${manifestDigest}, but this manifest is ${actual}: it signs a different image ` +
        '(or the manifest was re-serialised after signing: copy the manifest bytes unchanged and look up the signature by the digest being promoted)',
    );
  });

  it('refuses digest algorithms it cannot compute and malformed hex', () => {
    const claim = (d: string) => parseSimpleSigningPayload(payload.toString('utf8').replace(manifestDigest, d));
    expect(checkClaims(claim('md5:0123'), manifest)).toMatchObject({ ok: false, reason: expect.stringMatching(/md5 digest, which is not supported/) });
    expect(checkClaims(claim(manifestDigest.toUpperCase().replace('SHA256', 'sha256')), manifest)).toMatchObject({ ok: false, reason: expect.stringMatching(/not a well-formed sha256 digest/) });
  });
});

describe('verifySimpleSigning', () => {
  it('returns the payload when signature, payload and claim all hold', () => {
    expect(verifySimpleSigning({ payload, signatureB64, publicKeyPem, manifest }).critical.image['docker-manifest-digest']).toBe(manifestDigest);
  });

  it('throws SIGNATURE_INVALID with the label and the first failing reason', () => {
    const other = thrown(() => verifySimpleSigning({ payload, signatureB64, publicKeyPem: otherKeyPem, manifest, label: 'demo.sig layer 0' }));
    expect(other.code).toBe('SIGNATURE_INVALID');
    expect(other.message).toMatch(/^demo\.sig layer 0: the signature does not verify/);
    const claim = thrown(() => verifySimpleSigning({ payload, signatureB64, publicKeyPem, manifest: Buffer.from('{}') }));
    expect(claim.message).toMatch(/^signature: the signature is for manifest sha256:/);
  });
});

describe('readContainersImageSignature', () => {
  const layerJson = { mimeType: SIMPLE_SIGNING_MEDIA_TYPE, payload: payload.toString('base64'), annotations: { 'dev.cosignproject.cosign/signature': signatureB64 } };
  const file = (json: unknown, prefix = '\0sigstore-json\n') => Buffer.from(`${prefix}${JSON.stringify(json)}\n`);

  it('reads the 0x00 + "sigstore-json\\n" + JSON form, trailing newline included', () => {
    const layer = readContainersImageSignature(file(layerJson));
    expect(layer.mimeType).toBe(SIMPLE_SIGNING_MEDIA_TYPE);
    expect(layer.payload.equals(payload)).toBe(true);
    expect(simpleSigningSignature(layer)).toBe(signatureB64);
  });

  it('refuses other file forms and other media types', () => {
    expect(thrown(() => readContainersImageSignature(file(layerJson, '\0simple-signing\n'))).message).toMatch(/not a containers\/image sigstore signature: it starts with/);
    expect(thrown(() => readContainersImageSignature(Buffer.from('\0sigstore-json\n{'))).message).toMatch(/does not parse/);
    expect(thrown(() => readContainersImageSignature(file({ ...layerJson, payload: 'a b' }))).details[0]?.field).toBe('payload');
    const text = readContainersImageSignature(file({ ...layerJson, mimeType: 'text/plain' }));
    expect(thrown(() => simpleSigningSignature(text, 'signature-1')).message).toBe(
      `signature-1 has media type text/plain, not ${SIMPLE_SIGNING_MEDIA_TYPE}: it is not a cosign signature`,
    );
    expect(thrown(() => simpleSigningSignature({ ...text, mimeType: SIMPLE_SIGNING_MEDIA_TYPE, annotations: {} })).message).toMatch(/has no dev\.cosignproject\.cosign\/signature annotation/);
  });
});
