import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ForgeError } from './errors.ts';

/**
 * Verification keys kept in the cluster: a Secret or a ConfigMap holding `cosign.pub`, read through
 * the Kubernetes API by the verify step's own account (which may `get` exactly those objects) and
 * handed to cosign as a file. `cosign generate-key-pair k8s://…` puts the private key in the same
 * Secret, so a Secret holding a private key is refused: whoever can read it could sign.
 */
export interface KubernetesKeyRef {
  kind: 'Secret' | 'ConfigMap';
  namespace: string;
  name: string;
}

/** The data key cosign writes the public key under (and reads with `--key k8s://…`). */
export const PUBLIC_KEY_ENTRY = 'cosign.pub';
const PRIVATE_ENTRIES = ['cosign.key', 'cosign.password'];
const PRIVATE_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const PUBLIC_PEM = /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/;

/** `k8s://<namespace>/<name>`: a DNS label and a DNS subdomain, as Kubernetes names them. */
export const K8S_OBJECT_URI = /^k8s:\/\/([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)$/;

/** `k8s://<namespace>/<name>` → namespace and name. */
export function parseK8sRef(kind: KubernetesKeyRef['kind'], uri: string): KubernetesKeyRef {
  const m = uri.length <= 512 ? K8S_OBJECT_URI.exec(uri) : null;
  if (!m) throw new ForgeError('INVALID_CONFIG', `${JSON.stringify(uri)} is not k8s://<namespace>/<name>`);
  return { kind, namespace: m[1]!, name: m[2]! };
}

const describe = (ref: KubernetesKeyRef) => `${ref.kind} ${ref.namespace}/${ref.name}`;

/**
 * The public key of an object's decoded data, or a refusal naming the object: no `cosign.pub`, a
 * value that is not a PEM public key, or any private material beside it (`cosign.key`, a private
 * PEM under another name).
 */
export function publicKeyFromData(ref: KubernetesKeyRef, data: Record<string, string>): string {
  const privateEntries = Object.entries(data)
    .filter(([k, v]) => PRIVATE_ENTRIES.includes(k) || PRIVATE_PEM.test(v))
    .map(([k]) => k);
  if (privateEntries.length > 0) {
    throw new ForgeError(
      'INVALID_CONFIG',
      `${describe(ref)} holds private key material (${privateEntries.join(', ')}): a verification key must be public only, ` +
        `or every pod that may read it could sign. Keep the signing key elsewhere and create a public-key-only object: ` +
        `kubectl -n ${ref.namespace} create ${ref.kind === 'Secret' ? 'secret generic' : 'configmap'} ${ref.name} --from-file=${PUBLIC_KEY_ENTRY}=cosign.pub`,
    );
  }
  const pem = Object.hasOwn(data, PUBLIC_KEY_ENTRY) ? data[PUBLIC_KEY_ENTRY] : undefined;
  if (pem === undefined) throw new ForgeError('INVALID_CONFIG', `${describe(ref)} has no ${PUBLIC_KEY_ENTRY} entry (entries: ${Object.keys(data).join(', ') || 'none'})`);
  if (!PUBLIC_PEM.test(pem)) throw new ForgeError('INVALID_CONFIG', `${describe(ref)}: ${PUBLIC_KEY_ENTRY} is not a PEM public key (-----BEGIN PUBLIC KEY-----)`);
  return pem;
}

/** Reads the object with the pod's own account (in cluster) or the current kubeconfig context. */
export async function readKubernetesPublicKey(ref: KubernetesKeyRef, kubeConfig = defaultKubeConfig()): Promise<string> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  let data: Record<string, string>;
  try {
    if (ref.kind === 'Secret') {
      const secret = await api.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
      data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } else {
      data = (await api.readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name })).data ?? {};
    }
  } catch (e) {
    const code = (e as { code?: number }).code;
    const why = code === 404 ? 'it does not exist' : code === 403 ? "this pod's account may not read it (see the signature verifier's Role)" : (e as Error).message.split('\n')[0];
    throw new ForgeError('INVALID_CONFIG', `cannot read the verification key ${describe(ref)}: ${why}`, [], { cause: e });
  }
  return publicKeyFromData(ref, data);
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
