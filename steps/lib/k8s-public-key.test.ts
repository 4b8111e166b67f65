import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseK8sRef, publicKeyFromData } from './k8s-public-key.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const secret = parseK8sRef('Secret', 'k8s://keys/cosign-developers');
const configMap = parseK8sRef('ConfigMap', 'k8s://keys/cosign-developers');

describe('verification keys kept in the cluster are public only', () => {
  it('takes cosign.pub from a public-key-only Secret or ConfigMap', () => {
    expect(publicKeyFromData(secret, { 'cosign.pub': pub })).toBe(pub);
    expect(publicKeyFromData(configMap, { 'cosign.pub': pub, 'README': 'rotated 2026-01' })).toBe(pub);
  });

  it('refuses a Secret as `cosign generate-key-pair k8s://…` fills it (private key and password beside the public key)', () => {
    expect(() => publicKeyFromData(secret, { 'cosign.key': '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n…', 'cosign.password': 'x', 'cosign.pub': pub })).toThrow(
      /^Secret keys\/cosign-developers holds private key material \(cosign.key, cosign.password\): a verification key must be public only.*kubectl -n keys create secret generic cosign-developers --from-file=cosign.pub=cosign.pub$/,
    );
  });

  it('refuses private PEM material under any name, and a private key posing as cosign.pub', () => {
    expect(() => publicKeyFromData(configMap, { 'cosign.pub': pub, 'backup.pem': priv })).toThrow(/holds private key material \(backup.pem\)/);
    expect(() => publicKeyFromData(secret, { 'cosign.pub': priv })).toThrow(/holds private key material \(cosign.pub\)/);
  });

  it('names a missing or malformed public key', () => {
    expect(() => publicKeyFromData(secret, { 'key.pub': pub })).toThrow('Secret keys/cosign-developers has no cosign.pub entry (entries: key.pub)');
    expect(() => publicKeyFromData(secret, {})).toThrow('has no cosign.pub entry (entries: none)');
    expect(() => publicKeyFromData(configMap, { 'cosign.pub': 'not a key' })).toThrow('ConfigMap keys/cosign-developers: cosign.pub is not a PEM public key');
    expect(() => publicKeyFromData(configMap, Object.assign(Object.create({ 'cosign.pub': pub }) as object, {}) as Record<string, string>)).toThrow(/has no cosign.pub entry/);
  });

  it('parses k8s://<namespace>/<name> only', () => {
    expect(secret).toEqual({ kind: 'Secret', namespace: 'keys', name: 'cosign-developers' });
    expect(() => parseK8sRef('Secret', 'k8s://keys/../x')).toThrow(/is not k8s:\/\/<namespace>\/<name>/);
    expect(() => parseK8sRef('Secret', 'k8s://keys')).toThrow(/is not k8s:\/\//);
    for (const bad of ['k8s://keys/..', 'k8s://keys/.x', 'k8s://keys/x.', 'k8s://Keys/x', 'k8s://keys/x/y', 'k8s://-keys/x']) {
      expect(() => parseK8sRef('Secret', bad), bad).toThrow(/is not k8s:\/\//);
    }
    expect(parseK8sRef('ConfigMap', 'k8s://keys/cosign.developers').name).toBe('cosign.developers');
  });

  it('refuses with INVALID_CONFIG and the exact instructions', () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('expected a refusal');
    };
    expect(error(() => publicKeyFromData(configMap, { 'cosign.pub': pub, 'signing.pem': priv }))).toEqual(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message:
          'ConfigMap keys/cosign-developers holds private key material (signing.pem): a verification key must be public only, or every pod that may read it could sign. ' +
          'Keep the signing key elsewhere and create a public-key-only object: kubectl -n keys create configmap cosign-developers --from-file=cosign.pub=cosign.pub',
      }),
    );
    expect(error(() => publicKeyFromData(secret, { 'key.pub': pub, 'README': 'x' }))).toEqual(expect.objectContaining({ code: 'INVALID_CONFIG', message: 'Secret keys/cosign-developers has no cosign.pub entry (entries: key.pub, README)' }));
    expect(error(() => publicKeyFromData(secret, { 'cosign.pub': 'x' })).code).toBe('INVALID_CONFIG');
    expect(error(() => parseK8sRef('Secret', 'k8s://keys')).code).toBe('INVALID_CONFIG');
  });

  it('takes URIs up to 512 characters', () => {
    const uri = (length: number) => `k8s://keys/${'a'.repeat(length - 'k8s://keys/'.length)}`;
    expect(parseK8sRef('Secret', uri(512)).name).toHaveLength(501);
    expect(() => parseK8sRef('Secret', uri(513))).toThrow(/is not k8s:\/\/<namespace>\/<name>/);
  });
});
