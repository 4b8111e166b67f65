/**
 * cosign's legacy "simple signing" format, checked without cosign (node:crypto and zod only).
 *
 * A legacy signature (`:sha256-<hex>.sig` tag) is one layer per signature: the layer blob is the
 * simple-signing payload, media type `application/vnd.dev.cosign.simplesigning.v1+json`,
 *
 *   {"critical":{"identity":{"docker-reference":"<repo>"},
 *                "image":{"docker-manifest-digest":"sha256:<hex>"},
 *                "type":"cosign container image signature"},
 *    "optional":null | {…}}
 *
 * and its annotation `dev.cosignproject.cosign/signature` is the base64 (standard, padded) DER
 * signature over the **raw payload bytes** (sigstore/sigstore `pkg/signature/payload/payload.go`,
 * sigstore/cosign `specs/SIGNATURE_SPEC.md`, `pkg/cosign/verify.go` `verifyOCISignature`).
 *
 * Verification is the same three steps as `cosign verify --key … --insecure-ignore-tlog`:
 * 1. the signature verifies over the payload bytes with the public key ({@link verifySimpleSignature});
 * 2. the payload is a simple-signing payload ({@link parseSimpleSigningPayload});
 * 3. its `docker-manifest-digest` is the digest of the manifest being promoted ({@link checkClaims}).
 * `docker-reference` is deliberately not compared: cosign ignores it, so a signature stays valid
 * when the image is copied to another repository.
 *
 * Key types and hashes are the ones cosign v2.5.3 accepts for a PEM public key (checked against
 * `cosign verify-blob`): ECDSA (P-256, P-384, P-521) always with SHA-256, RSA PKCS#1 v1.5 with
 * SHA-256, Ed25519 (pure, no pre-hash).
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { ForgeError } from '../../steps/lib/errors.ts';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/** `algorithm:encoded` as in the OCI image spec's digest grammar. */
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const simpleSigningPayloadSchema = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }),
    image: z.object({
      'docker-manifest-digest': z.string().regex(DIGEST_RE, 'not a digest (expected algorithm:hex, e.g. sha256:…)'),
    }),
    type: z.literal(SIMPLE_SIGNING_TYPE, { error: `must be "${SIMPLE_SIGNING_TYPE}"` }),
  }),
  // cosign writes `null` when there are no annotations; older producers may omit it.
  optional: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((v) => v ?? null),
});

export type SimpleSigningPayload = z.infer<typeof simpleSigningPayloadSchema>;

/**
 * Parses and validates a simple-signing payload (the layer blob). Throws SIGNATURE_INVALID with
 * one detail per problem. Keys are matched exactly (cosign's producers write them in lower case;
 * Go would also accept `Critical`, this does not).
 */
export function parseSimpleSigningPayload(bytes: Uint8Array | string, label = 'simple-signing payload'): SimpleSigningPayload {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ForgeError('SIGNATURE_INVALID', `${label} is not JSON: ${(e as Error).message}`);
  }
  const r = simpleSigningPayloadSchema.safeParse(json);
  if (!r.success) {
    throw new ForgeError(
      'SIGNATURE_INVALID',
      `${label} is not a cosign simple-signing payload (${SIMPLE_SIGNING_MEDIA_TYPE})`,
      r.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })),
    );
  }
  return r.data;
}

export interface VerifySimpleSignatureInput {
  /** The raw payload bytes exactly as stored (the layer blob); never re-serialised JSON. */
  payload: Uint8Array;
  /** The `dev.cosignproject.cosign/signature` annotation: base64 of the DER signature. */
  signatureB64: string;
  /** PEM `PUBLIC KEY` (SPKI), as written by `cosign generate-key-pair` / `cosign public-key`. */
  publicKeyPem: string;
}

export type SignatureVerdict =
  | { ok: true; keyType: string }
  /** `keyType` is empty when the key itself could not be read. */
  | { ok: false; keyType: string; reason: string };

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go's `base64.StdEncoding.DecodeString`: padded, no whitespace, no URL alphabet. */
function decodeBase64Strict(s: string): Buffer | undefined {
  return STRICT_BASE64.test(s) ? Buffer.from(s, 'base64') : undefined;
}

const EC_CURVES: Record<string, string> = { prime256v1: 'ECDSA P-256', secp384r1: 'ECDSA P-384', secp521r1: 'ECDSA P-521' };

/** The hash node:crypto.verify needs for this key (null: Ed25519), or why the key is refused. */
function keyScheme(key: KeyObject): { hash: string | null; keyType: string } | { reason: string } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown curve';
      const name = EC_CURVES[curve];
      return name ? { hash: 'sha256', keyType: name } : { reason: `ECDSA keys on ${curve} are not supported (cosign keys are P-256; P-384 and P-521 are accepted too)` };
    }
    case 'rsa':
      return { hash: 'sha256', keyType: `RSA-${key.asymmetricKeyDetails?.modulusLength ?? '?'}` };
    case 'ed25519':
      return { hash: null, keyType: 'Ed25519' };
    default:
      return { reason: `${key.asymmetricKeyType ?? 'unknown'} keys are not supported (use ECDSA P-256 as cosign generate-key-pair does, RSA or Ed25519)` };
  }
}

/**
 * Checks the signature over the raw payload bytes. Never throws for a bad signature or key: the
 * verdict says why, so callers can report every signature of an image.
 */
export function verifySimpleSignature(input: VerifySimpleSignatureInput): SignatureVerdict {
  let key: KeyObject;
  try {
    key = createPublicKey(input.publicKeyPem);
  } catch (e) {
    return { ok: false, keyType: '', reason: `the public key is not a PEM public key: ${(e as Error).message}` };
  }
  if (key.type !== 'public') return { ok: false, keyType: '', reason: 'a private key was given where the public key belongs' };
  const scheme = keyScheme(key);
  if ('reason' in scheme) return { ok: false, keyType: key.asymmetricKeyType ?? '', reason: scheme.reason };

  const sigText = input.signatureB64.trim();
  if (sigText === '') {
    return { ok: false, keyType: scheme.keyType, reason: `the ${SIGNATURE_ANNOTATION} annotation is empty (attestation layers carry their signature inside the DSSE envelope instead)` };
  }
  const sig = decodeBase64Strict(sigText);
  if (!sig) return { ok: false, keyType: scheme.keyType, reason: 'the signature is not standard padded base64' };

  let ok: boolean;
  try {
    ok = cryptoVerify(scheme.hash, input.payload, key, sig);
  } catch (e) {
    // A malformed DER signature, for instance: still just "does not verify".
    return { ok: false, keyType: scheme.keyType, reason: `the signature could not be checked: ${(e as Error).message}` };
  }
  if (!ok) {
    return {
      ok: false,
      keyType: scheme.keyType,
      reason: 'the signature does not verify with this public key: the payload was changed after signing, or it was signed with a different key',
    };
  }
  return { ok: true, keyType: scheme.keyType };
}

export type ClaimsVerdict =
  | { ok: true; claimed: string; actual: string }
  | { ok: false; claimed: string; actual: string; reason: string };

const HASHES: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

/**
 * The claim check (`cosign verify --check-claims`, on by default): the payload's
 * `docker-manifest-digest` must be the digest of these exact manifest bytes. `actual` is the
 * manifest digest with the claim's algorithm (sha256 unless the claim says otherwise).
 */
export function checkClaims(payload: SimpleSigningPayload, manifestBytes: Uint8Array): ClaimsVerdict {
  const claimed = payload.critical.image['docker-manifest-digest'];
  const [algorithm = '', encoded = ''] = claimed.split(':', 2);
  const hash = HASHES[algorithm];
  const sha256 = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  if (!hash) {
    return { ok: false, claimed, actual: sha256, reason: `the signature claims a ${algorithm} digest, which is not supported (sha256 and sha512 are)` };
  }
  const actual = `${algorithm}:${createHash(hash.node).update(manifestBytes).digest('hex')}`;
  if (encoded.length !== hash.hexLength || !/^[0-9a-f]+$/.test(encoded)) {
    return { ok: false, claimed, actual, reason: `the signed digest ${claimed} is not a well-formed ${algorithm} digest (${hash.hexLength} lower-case hex digits)` };
  }
  if (claimed !== actual) {
    return {
      ok: false,
      claimed,
      actual,
      reason:
        `the signature is for manifest ${claimed}, but this manifest is ${actual}: it signs a different image ` +
        '(or the manifest was re-serialised after signing: copy the manifest bytes unchanged and look up the signature by the digest being promoted)',
    };
  }
  return { ok: true, claimed, actual };
}

export interface VerifySimpleSigningInput extends VerifySimpleSignatureInput {
  /** The manifest bytes of the image whose signature this is. */
  manifest: Uint8Array;
  /** Names the signature in error messages (`registry/repo:sha256-….sig layer 0`). */
  label?: string;
}

/**
 * All three checks, in cosign's order (signature, payload, claims). Returns the verified payload,
 * or throws SIGNATURE_INVALID with the reason.
 */
export function verifySimpleSigning(input: VerifySimpleSigningInput): SimpleSigningPayload {
  const label = input.label ?? 'signature';
  const sig = verifySimpleSignature(input);
  if (!sig.ok) throw new ForgeError('SIGNATURE_INVALID', `${label}: ${sig.reason}`);
  const payload = parseSimpleSigningPayload(input.payload, `${label}: payload`);
  const claims = checkClaims(payload, input.manifest);
  if (!claims.ok) throw new ForgeError('SIGNATURE_INVALID', `${label}: ${claims.reason}`);
  return payload;
}

/** A signature as containers/image stores it on disk (and as a `.sig` layer carries it). */
export interface SignatureLayer {
  mimeType: string;
  payload: Buffer;
  annotations: Record<string, string>;
}

const CONTAINERS_IMAGE_PREFIX = Buffer.concat([Buffer.from([0x00]), Buffer.from('sigstore-json\n', 'utf8')]);

const containersImageSignatureSchema = z.object({
  mimeType: z.string(),
  payload: z.string().regex(STRICT_BASE64, 'not standard padded base64'),
  annotations: z
    .record(z.string(), z.string())
    .nullish()
    .transform((v) => v ?? {}),
});

/**
 * Reads containers/image's "dir" signature file (`signature-N`): a 0x00 byte, the line
 * `sigstore-json\n`, then JSON `{mimeType, payload (base64), annotations}`. Used by the
 * conformance suite over containers/image's own vectors.
 */
export function readContainersImageSignature(fileBytes: Uint8Array, label = 'signature file'): SignatureLayer {
  const buf = Buffer.from(fileBytes);
  if (!buf.subarray(0, CONTAINERS_IMAGE_PREFIX.length).equals(CONTAINERS_IMAGE_PREFIX)) {
    const head = JSON.stringify(buf.subarray(0, CONTAINERS_IMAGE_PREFIX.length).toString('latin1'));
    throw new ForgeError('SIGNATURE_INVALID', `${label} is not a containers/image sigstore signature: it starts with ${head}, expected "\\u0000sigstore-json\\n"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(buf.subarray(CONTAINERS_IMAGE_PREFIX.length).toString('utf8'));
  } catch (e) {
    throw new ForgeError('SIGNATURE_INVALID', `${label}: the JSON after "sigstore-json" does not parse: ${(e as Error).message}`);
  }
  const r = containersImageSignatureSchema.safeParse(json);
  if (!r.success) {
    throw new ForgeError(
      'SIGNATURE_INVALID',
      `${label} is not a containers/image sigstore signature`,
      r.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })),
    );
  }
  return { mimeType: r.data.mimeType, payload: Buffer.from(r.data.payload, 'base64'), annotations: r.data.annotations };
}

/**
 * The signature of a layer that must be a simple-signing signature. Throws SIGNATURE_INVALID for
 * any other media type (an attestation, an SBOM, a text attachment), whatever its annotations say.
 */
export function simpleSigningSignature(layer: SignatureLayer, label = 'signature'): string {
  if (layer.mimeType !== SIMPLE_SIGNING_MEDIA_TYPE) {
    throw new ForgeError('SIGNATURE_INVALID', `${label} has media type ${layer.mimeType}, not ${SIMPLE_SIGNING_MEDIA_TYPE}: it is not a cosign signature`);
  }
  const sig = layer.annotations[SIGNATURE_ANNOTATION];
  if (sig === undefined) throw new ForgeError('SIGNATURE_INVALID', `${label} has no ${SIGNATURE_ANNOTATION} annotation`);
  return sig;
}
