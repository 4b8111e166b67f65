import { isPlainHttpRegistry, lastLines, runTool } from './exec.ts';
import { ForgeError } from './errors.ts';

/**
 * Typed wrapper of the real `cosign` v2 (legacy `.sig`/`.att` tag layout, which Kyverno reads).
 * Keys are passed as references cosign understands: a key file path, `k8s://<ns>/<secret>`, or a
 * KMS URI (`gcpkms://…`, `awskms://…`, `azurekms://…`, `hashivault://…`). A private key's
 * password travels in COSIGN_PASSWORD, never on the command line.
 */
export type KeyRef = string;

export interface KeylessIdentity {
  identity: string;
  issuer: string;
}

export interface VerifyOptions {
  /** Public key reference; or `keyless` for certificate identity + issuer. */
  key?: KeyRef;
  keyless?: KeylessIdentity;
  /**
   * Whether signatures are expected in a transparency log (Rekor). `false` must be chosen
   * explicitly: it passes `--insecure-ignore-tlog`, which cosign itself warns about.
   */
  transparencyLog: boolean;
}

function registryFlags(reference: string): string[] {
  return isPlainHttpRegistry(reference) ? ['--allow-insecure-registry', '--allow-http-registry'] : [];
}

function verifierFlags(opts: VerifyOptions): string[] {
  const out: string[] = [];
  if (opts.key) out.push('--key', opts.key);
  else if (opts.keyless) out.push('--certificate-identity', opts.keyless.identity, '--certificate-oidc-issuer', opts.keyless.issuer);
  else throw new ForgeError('INVALID_ARGS', 'signature verification needs a key (file, k8s:// secret or KMS URI) or a keyless identity and issuer');
  if (!opts.transparencyLog) out.push('--insecure-ignore-tlog=true');
  return out;
}

/** `sha256:abc…` → the legacy tag `sha256-abc….sig` / `.att`. */
export function signatureTag(digest: string, kind: 'sig' | 'att'): string {
  return `${digest.replace(':', '-')}.${kind}`;
}

export interface VerifiedSignature {
  /** The digest the signature's payload claims (cosign checked it equals the image's). */
  digest: string;
  /** Who signed: the key reference, or the certificate subject for keyless. */
  signer: string;
  signatures: number;
}

/** `cosign verify` of an image by digest. Returns the verified claims, or throws with cosign's reason. */
export async function verifyImage(reference: string, opts: VerifyOptions): Promise<VerifiedSignature> {
  const r = await runTool('cosign', ['verify', ...verifierFlags(opts), ...registryFlags(reference), '--output', 'json', reference], {
    allowFailure: true,
    timeoutMs: 120_000,
  });
  if (r.exitCode !== 0) throw new ForgeError('SIGNATURE_INVALID', `signature verification failed for ${reference}: ${cosignReason(r.stderr)}`);
  const payloads = JSON.parse(r.stdout) as { critical: { image: { 'docker-manifest-digest': string } } }[];
  return {
    digest: payloads[0]!.critical.image['docker-manifest-digest'],
    signer: opts.key ?? `${opts.keyless!.identity} (${opts.keyless!.issuer})`,
    signatures: payloads.length,
  };
}

export interface SignOptions {
  key: KeyRef;
  /** Password of an encrypted key file. */
  password?: string;
  transparencyLog: boolean;
}

function signerFlags(opts: SignOptions): string[] {
  return ['--key', opts.key, `--tlog-upload=${opts.transparencyLog}`, '--yes'];
}

function signerEnv(opts: SignOptions): Record<string, string> {
  return { COSIGN_PASSWORD: opts.password ?? '' };
}

/** `cosign sign` (legacy `.sig` layout) of an image by digest. */
export async function signImage(reference: string, opts: SignOptions): Promise<void> {
  await runTool('cosign', ['sign', ...signerFlags(opts), ...registryFlags(reference), reference], { env: signerEnv(opts), timeoutMs: 120_000 });
}

/** The PEM public key of a signing key (`cosign public-key`: a key file, or a KMS key). */
export async function publicKeyOf(opts: SignOptions): Promise<string> {
  return (await runTool('cosign', ['public-key', '--key', opts.key], { env: signerEnv(opts), timeoutMs: 60_000 })).stdout;
}

/** `cosign attest` of an in-toto predicate (file) with the given predicate type URI. */
export async function attestImage(reference: string, predicateFile: string, predicateType: string, opts: SignOptions): Promise<void> {
  await runTool('cosign', ['attest', ...signerFlags(opts), ...registryFlags(reference), '--type', predicateType, '--predicate', predicateFile, reference], {
    env: signerEnv(opts),
    timeoutMs: 120_000,
  });
}

/** An attestation cosign verified: the DSSE payload as stored (base64) and its decoded in-toto statement. */
export interface VerifiedAttestation {
  payload: string;
  statement: unknown;
}

/** `cosign verify-attestation` for one predicate type; returns every attestation that verified. */
export async function verifiedAttestations(reference: string, predicateType: string, opts: VerifyOptions): Promise<VerifiedAttestation[]> {
  const r = await runTool('cosign', ['verify-attestation', ...verifierFlags(opts), ...registryFlags(reference), '--type', predicateType, '--output', 'json', reference], {
    allowFailure: true,
    timeoutMs: 120_000,
  });
  if (r.exitCode !== 0) throw new ForgeError('ATTESTATION_FAILED', `attestation verification failed for ${reference}: ${cosignReason(r.stderr)}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => {
      const { payload } = JSON.parse(l) as { payload: string };
      return { payload, statement: JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as unknown };
    });
}

/** `cosign verify-attestation` for one predicate type; returns the decoded in-toto statements. */
export async function verifyAttestation(reference: string, predicateType: string, opts: VerifyOptions): Promise<unknown[]> {
  return (await verifiedAttestations(reference, predicateType, opts)).map((a) => a.statement);
}

/** `cosign generate-key-pair` into a directory (tests, and first-time setup). */
export async function generateKeyPair(dir: string, password = ''): Promise<{ privateKey: string; publicKey: string }> {
  await runTool('cosign', ['generate-key-pair'], { cwd: dir, env: { COSIGN_PASSWORD: password } });
  return { privateKey: `${dir}/cosign.key`, publicKey: `${dir}/cosign.pub` };
}

/** cosign prints its reason as the last `Error:` line; keep that, drop the usage noise. */
function cosignReason(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('Error:'));
  return (errors.at(-1) ?? lastLines(stderr, 2)).replace(/^Error:\s*/, '');
}
