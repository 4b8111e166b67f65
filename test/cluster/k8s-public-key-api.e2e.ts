import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { failure } from '../helpers/forge-error.ts';
import { kubeApiServerAvailable, kubeApiServerMissing, startKubeApiServer, type KubeApiServer } from '../helpers/kube-apiserver.ts';
import { parseK8sRef, readKubernetesPublicKey } from '../../steps/lib/k8s-public-key.ts';

/**
 * Reading a verification key through the Kubernetes API, against a real kube-apiserver and etcd on
 * loopback (test/helpers/kube-apiserver.ts): what the verify step's account gets for a
 * public-key-only object, a Secret cosign filled with its private key, a missing object, an object
 * it may not read, and an API server it cannot reach. It runs with `npm run test:cluster`, which
 * builds kube-apiserver first (images/cluster/build.mjs); the verify step itself reads keys on the
 * cluster in verify-and-promote.e2e.ts.
 */
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const b64 = (s: string) => Buffer.from(s).toString('base64');

let server: KubeApiServer;
let work: string;

describe('verification keys read through the Kubernetes API (kube-apiserver on loopback)', () => {
  beforeAll(async () => {
    // Never skipped: without the binaries this fails, naming the command that builds them.
    if (!kubeApiServerAvailable) throw new Error(kubeApiServerMissing);
    server = await startKubeApiServer();
    work = await mkdtemp(join(tmpdir(), 'forge-k8s-key-test-'));
    const api = server.kubeConfig('admin').makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'keys' } } });
    const namespace = 'keys';
    await api.createNamespacedSecret({ namespace, body: { metadata: { name: 'developers' }, data: { 'cosign.pub': b64(pub) } } });
    await api.createNamespacedSecret({ namespace, body: { metadata: { name: 'generated' }, data: { 'cosign.key': b64(priv), 'cosign.password': b64(''), 'cosign.pub': b64(pub) } } });
    await api.createNamespacedSecret({ namespace, body: { metadata: { name: 'empty' } } });
    // Only a ConfigMap by this name: read as a Secret it would not be found.
    await api.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'published' }, data: { 'cosign.pub': pub, README: 'rotated 2026-01' } } });
    await api.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'empty' } } });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });
  afterEach(() => vi.unstubAllEnvs());

  const read = (kind: 'Secret' | 'ConfigMap', uri: string, kc = server.kubeConfig('admin')) => readKubernetesPublicKey(parseK8sRef(kind, uri), kc);

  it('returns cosign.pub of a public-key-only Secret (decoded) or ConfigMap', async () => {
    expect(await read('Secret', 'k8s://keys/developers')).toBe(pub);
    expect(await read('ConfigMap', 'k8s://keys/published')).toBe(pub);
  });

  it('refuses the Secret `cosign generate-key-pair k8s://…` fills, and objects without data', async () => {
    expect((await failure(read('Secret', 'k8s://keys/generated'))).message).toMatch(/^Secret keys\/generated holds private key material \(cosign\.key, cosign\.password\): /);
    expect((await failure(read('Secret', 'k8s://keys/empty'))).message).toBe('Secret keys/empty has no cosign.pub entry (entries: none)');
    expect((await failure(read('ConfigMap', 'k8s://keys/empty'))).message).toBe('ConfigMap keys/empty has no cosign.pub entry (entries: none)');
  });

  it('says that the object does not exist, or that this account may not read it', async () => {
    for (const kind of ['Secret', 'ConfigMap'] as const) {
      const missing = await failure(read(kind, 'k8s://keys/nobody'));
      expect([missing.code, missing.message, missing.details]).toEqual(['INVALID_CONFIG', `cannot read the verification key ${kind} keys/nobody: it does not exist`, []]);
      expect((missing.cause as { code?: number }).code).toBe(404);
      const forbidden = await failure(read(kind, 'k8s://keys/published', server.kubeConfig('reader')));
      expect(forbidden.message).toBe(`cannot read the verification key ${kind} keys/published: this pod's account may not read it (see the signature verifier's Role)`);
    }
  });

  it("gives the client's first line when the API server cannot be reached", async () => {
    const kc = new KubeConfig();
    const closed = server.url.replace(/:\d+$/, ':1');
    kc.loadFromOptions({ clusters: [{ name: 'c', server: closed, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
    const e = await failure(read('Secret', 'k8s://keys/developers', kc));
    expect(e.message).toMatch(/^cannot read the verification key Secret keys\/developers: .*ECONNREFUSED/);
    expect(e.message).not.toContain('\n');
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('uses the current kubeconfig context when given none', async () => {
    const file = join(work, 'kubeconfig');
    await writeFile(file, server.kubeConfig('admin').exportConfig());
    vi.stubEnv('KUBECONFIG', file);
    expect(await readKubernetesPublicKey(parseK8sRef('ConfigMap', 'k8s://keys/published'))).toBe(pub);
  });
});
