import { createHash, createPublicKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { exceptionSchema } from './scan-exceptions.ts';
import { ForgeError } from './errors.ts';
import { K8S_OBJECT_URI, parseK8sRef, readKubernetesPublicKey } from './k8s-public-key.ts';
import { DEFAULT_THRESHOLD, severitySchema } from './severity.ts';
import { SIZE_PATTERN } from './size.ts';

/**
 * The named promotion settings a platform team configures (platform config `promotion`), shipped
 * to the step pods as a ConfigMap. Submitters choose names (a verification key, a scan policy, a
 * promotion policy); the values are not theirs to change.
 */
const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lower-case name (letters, digits, "-")');
const pem = z.string().regex(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/, 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
/** A KMS key URI as cosign and Kyverno take it. */
export const kmsUri = z.string().regex(/^(gcpkms|awskms|azurekms|hashivault):\/\/\S+$/, 'must be a KMS URI: gcpkms://…, awskms://…, azurekms://… or hashivault://…');
const kms = kmsUri;

/**
 * A Secret or ConfigMap holding only `cosign.pub` (`k8s://<namespace>/<name>`), read by the verify
 * step's own account; one that also holds the private key is refused (steps/lib/k8s-public-key.ts).
 */
const k8sObject = z.string().max(512).regex(K8S_OBJECT_URI, 'must be k8s://<namespace>/<name>');

export const verificationKeySchema = z.union([
  z.strictObject({ publicKey: pem }),
  z.strictObject({ kms }),
  z.strictObject({ secret: k8sObject }),
  z.strictObject({ configMap: k8sObject }),
  z.strictObject({ keyless: z.strictObject({ identity: z.string().min(1), issuer: z.url() }) }),
]);

export const scanPolicySettingsSchema = z.strictObject({
  threshold: severitySchema.default(DEFAULT_THRESHOLD),
  ignoreUnfixed: z.boolean().default(false),
  exceptions: z.array(exceptionSchema).default([]),
});

export const promotionPolicySettingsSchema = z.strictObject({
  /** Compressed size limit per platform image, e.g. "2GiB". */
  maxSize: z.string().regex(SIZE_PATTERN, 'must be a size such as 500MiB or 2GiB').default('2GiB'),
});

export const promotionSettingsSchema = z.strictObject({
  /** false: no Rekor in this platform; verification says so explicitly (--insecure-ignore-tlog). */
  transparencyLog: z.boolean(),
  verificationKeys: z.record(name, verificationKeySchema).refine((r) => Object.keys(r).length > 0, 'define at least one verification key'),
  scanPolicies: z.record(name, scanPolicySettingsSchema).refine((r) => Object.keys(r).length > 0, 'define at least one scan policy'),
  promotionPolicies: z.record(name, promotionPolicySettingsSchema).refine((r) => Object.keys(r).length > 0, 'define at least one promotion policy'),
  /** Public key that verifies the promotion attestation right after it is signed. */
  attestationPublicKey: z.union([z.strictObject({ publicKey: pem }), z.strictObject({ kms })]),
  /**
   * Who signs the vulnerability attestations (`cosign attest --type vuln`) the scan gate trusts: the
   * platform's scanner, never a submitter's key. Optional here so older settings files still parse;
   * the scan gate refuses to run without it, and the platform config requires it.
   */
  scanner: verificationKeySchema.optional(),
  /**
   * How long the scan gate waits for the scanner's attestation of an image that has none yet,
   * seconds: for scanners that attest what arrives in the incoming registry on their own (a
   * release promotes images it has just pushed). 0: refuse at once.
   */
  scanWaitSeconds: z.number().int().min(0).max(3600).default(0),
});

export type PromotionSettings = z.infer<typeof promotionSettingsSchema>;
export type VerificationKey = z.infer<typeof verificationKeySchema>;

/** Where the step image finds the settings (the ConfigMap is mounted there). */
export const SETTINGS_FILE = '/etc/forge/promotion/settings.json';

export async function loadPromotionSettings(file = SETTINGS_FILE): Promise<PromotionSettings> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ForgeError('INVALID_CONFIG', `cannot read the promotion settings ${file}: ${(e as Error).message}`);
  }
  const parsed = promotionSettingsSchema.safeParse(value);
  if (!parsed.success) {
    throw new ForgeError(
      'INVALID_CONFIG',
      `invalid promotion settings ${file}`,
      parsed.error.issues.map((i) => ({ file, field: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

/**
 * Looks a user-given name up in one of the settings' maps, as an own key only (`constructor`,
 * `toString`, `__proto__` name nothing unless configured), with an error listing the names that exist.
 */
export function pick<T>(map: Readonly<Record<string, T>>, key: string, what: string): T {
  if (!Object.hasOwn(map, key)) throw new ForgeError('INVALID_ARGS', `unknown ${what} "${key}" (configured: ${Object.keys(map).join(', ')})`);
  return map[key]!;
}

/** How cosign is told to verify with a configured key, and how that key is named in outputs. */
export interface KeyVerifier {
  key?: string;
  keyless?: { identity: string; issuer: string };
  transparencyLog: boolean;
  label: string;
}

/** A configured key as cosign verification options (a PEM is written to a file cosign reads). */
export async function verifierFor(name: string, key: VerificationKey, transparencyLog: boolean): Promise<KeyVerifier> {
  const label = keyLabel(name, key);
  return 'keyless' in key ? { keyless: key.keyless, transparencyLog, label } : { key: await cosignKeyRef(key), transparencyLog, label };
}

/**
 * A key as cosign takes it: a KMS URI passes through; a PEM — configured, or read from a
 * public-key-only Secret/ConfigMap — is written once to a file named by its fingerprint (so
 * repeated calls reuse it instead of littering /tmp).
 */
export async function cosignKeyRef(key: { publicKey: string } | { kms: string } | { secret: string } | { configMap: string }): Promise<string> {
  if ('kms' in key) return key.kms;
  const publicKey =
    'secret' in key ? await readKubernetesPublicKey(parseK8sRef('Secret', key.secret))
    : 'configMap' in key ? await readKubernetesPublicKey(parseK8sRef('ConfigMap', key.configMap))
    : key.publicKey;
  const dir = join(tmpdir(), 'forge-keys');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${keyFingerprint(publicKey).slice('sha256:'.length, 'sha256:'.length + 16)}.pub`);
  await writeFile(file, publicKey.endsWith('\n') ? publicKey : `${publicKey}\n`);
  return file;
}

/** sha256 of a PEM public key's DER bytes: a stable name for a key in logs and records. */
export function keyFingerprint(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** How a configured key is named in outputs, attestations and records (never a temporary path). */
export function keyLabel(name: string, key: VerificationKey): string {
  if ('publicKey' in key) return `${name} (${keyFingerprint(key.publicKey)})`;
  if ('kms' in key) return `${name} (${key.kms})`;
  if ('secret' in key) return `${name} (Secret ${key.secret})`;
  if ('configMap' in key) return `${name} (ConfigMap ${key.configMap})`;
  return `${name} (${key.keyless.identity}, ${key.keyless.issuer})`;
}
