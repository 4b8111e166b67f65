/**
 * KEDA on the test cluster, for the tests that scale a pool: the operator and the metrics adapter
 * built from KEDA's Go module (images/cluster/keda.mjs), installed from the module's own config/ —
 * the CRDs with the JSON patches of config/crd/patches, the namespace, service account, RBAC, the
 * two Deployments, their Services and the APIService — changed only where this cluster needs it:
 *
 *   - the locally built images (no registry);
 *   - certificates made here (openssl) instead of the operator's rotation: the adapter reaches the
 *     operator's gRPC metrics service by a fixed Service IP (pods have no DNS), so the certificate
 *     names that IP, and the APIService carries the CA instead of being patched by the operator;
 *   - no admission webhooks (not built): the API server checks ScaledObjects against the CRD schema.
 *
 * The API server's aggregation layer (front-proxy certificates and flags: pki.ts, components.ts)
 * routes external.metrics.k8s.io to the adapter, where the HPA controller reads the pools' lag.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubectl, REPO_ROOT, run, type E2eEnv } from './e2e-env.ts';

export const KEDA_NAMESPACE = 'keda';
/** Fixed Service addresses, in the Service range next to NATS's 10.96.42.42. */
const OPERATOR_IP = process.env.FORGE_E2E_KEDA_OPERATOR_IP || '10.96.42.50';
const ADAPTER_IP = process.env.FORGE_E2E_KEDA_ADAPTER_IP || '10.96.42.51';
const CERT_SECRET = 'kedaorg-certs';
const APISERVICE = 'v1beta1.external.metrics.k8s.io';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: any; [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

interface KedaBuild {
  config: string;
  operatorImage: string;
  adapterImage: string;
}

/** Where build.mjs keeps KEDA's module copy and the image references; fails naming the build command. */
function kedaBuild(): KedaBuild {
  const out = execFileSync(process.execPath, [path.join(REPO_ROOT, 'images/cluster/build.mjs'), '--paths'], { encoding: 'utf8' });
  const p = JSON.parse(out) as { keda: { module: string }; images: Record<string, { ref: string }> };
  const config = path.join(p.keda.module, 'config');
  if (!fs.existsSync(path.join(config, 'crd', 'bases', 'keda.sh_scaledobjects.yaml'))) {
    throw new Error(`KEDA is not built (${config} is missing): run node images/cluster/build.mjs --only keda,images (npm run cluster:up builds it)`);
  }
  return { config, operatorImage: p.images['keda-operator']!.ref, adapterImage: p.images['keda-metrics-apiserver']!.ref };
}

function docs(file: string): Obj[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => !!d && typeof d === 'object' && 'kind' in d);
}

/** RFC 6902 `add` and `remove` (all config/crd/patches uses), `-` appending to an array. */
function jsonPatch(doc: Obj, ops: { op: string; path: string; value?: unknown }[]): void {
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let at: any = doc; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const k of keys) {
      at = Array.isArray(at) ? at[Number(k)] : at?.[k];
      if (at === undefined) throw new Error(`CRD patch ${op.op} ${op.path}: no ${k} in ${doc.metadata.name}`);
    }
    if (op.op === 'add') {
      if (Array.isArray(at)) at.splice(last === '-' ? at.length : Number(last), 0, op.value);
      else at[last] = op.value;
    } else if (op.op === 'remove') {
      if (Array.isArray(at)) at.splice(Number(last), 1);
      else delete at[last];
    } else throw new Error(`CRD patch: unsupported op ${op.op}`);
  }
}

/** KEDA's CRDs as config/crd/kustomization.yaml builds them (bases + patches). */
export function kedaCrds(config = kedaBuild().config): Obj[] {
  const crds = fs.readdirSync(path.join(config, 'crd', 'bases')).sort().flatMap((f) => docs(path.join(config, 'crd', 'bases', f)));
  const patches: Record<string, string> = { 'scaledobjects.keda.sh': 'scaledobject_patch.yaml', 'scaledjobs.keda.sh': 'scaledjob_patch.yaml' };
  for (const crd of crds) {
    const file = patches[crd.metadata.name];
    if (file) jsonPatch(crd, parseAllDocuments(fs.readFileSync(path.join(config, 'crd', 'patches', file), 'utf8')).flatMap((d) => d.toJS() as never[]));
  }
  return crds;
}

/** A CA and one serving/client certificate for both KEDA components (gRPC is mutual TLS). */
function certificates(dir: string): Record<string, string> {
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  ssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=forge-e2e-keda-ca', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature', '-out', 'ca.crt']);
  ssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'tls.key']);
  ssl(['req', '-new', '-key', 'tls.key', '-subj', '/CN=keda-operator', '-out', 'tls.csr']);
  const names = ['keda-operator', 'keda-metrics-apiserver'].flatMap((s) => [s, `${s}.${KEDA_NAMESPACE}`, `${s}.${KEDA_NAMESPACE}.svc`, `${s}.${KEDA_NAMESPACE}.svc.cluster.local`]);
  fs.writeFileSync(path.join(dir, 'tls.ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${[...names.map((n) => `DNS:${n}`), `IP:${OPERATOR_IP}`, `IP:${ADAPTER_IP}`].join(',')}\n`);
  ssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'tls.ext', '-out', 'tls.crt']);
  return Object.fromEntries(['ca.crt', 'tls.crt', 'tls.key'].map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

/** The module's Deployment with the local image, this cluster's arguments and a prompt readiness check. */
function deployment(d: Obj, image: string, binary: string, pullPolicy: string, args: (upstream: string[]) => string[]): Obj {
  const c = d.spec.template.spec.containers[0];
  Object.assign(c, { image, imagePullPolicy: pullPolicy, command: [binary], args: args(c.args ?? []) });
  for (const probe of [c.readinessProbe, c.livenessProbe]) if (probe) probe.initialDelaySeconds = Math.min(probe.initialDelaySeconds ?? 0, 3);
  return d;
}

/** Installs KEDA and waits until the HPA can read external metrics through it. */
export async function deployKeda(env: E2eEnv): Promise<void> {
  const { config, operatorImage, adapterImage } = kedaBuild();
  const apply = (objs: Obj[], extra: string[] = []) => kubectl(env, ['apply', '--server-side', '--force-conflicts', '--field-manager=forge-e2e', ...extra, '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n---\n'));
  await apply(kedaCrds(config));
  await kubectl(env, ['wait', '--for=condition=Established', '--timeout=60s', ...kedaCrds(config).map((c) => `crd/${c.metadata.name}`)]);
  const file = (rel: string) => docs(path.join(config, rel));
  await apply([...file('general/namespace.yaml'), ...file('service_account/service_account.yaml'), ...file('rbac/role.yaml'), ...file('rbac/role_binding.yaml'), ...file('rbac/aggregate_cluster_roles.yaml'), ...file('metrics-server/role.yaml'), ...file('metrics-server/role_binding.yaml')]);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-keda-'));
  let certs: Record<string, string>;
  try {
    certs = certificates(tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  await apply([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: CERT_SECRET, namespace: KEDA_NAMESPACE }, type: 'kubernetes.io/tls', stringData: certs }]);

  const services = [...file('manager/service.yaml'), ...file('metrics-server/service.yaml')];
  for (const s of services) s.spec.clusterIP = s.metadata.name === 'keda-operator' ? OPERATOR_IP : ADAPTER_IP;
  const operator = deployment(file('manager/manager.yaml')[0]!, operatorImage, '/bin/keda-operator', env.pullPolicy, (a) => [
    // One replica: no leader election; certificates from the Secret above, not rotated.
    ...a.filter((x) => !/^--(leader-elect|enable-cert-rotation)/.test(x)),
    '--leader-elect=false',
    '--enable-cert-rotation=false',
  ]);
  const adapter = deployment(file('metrics-server/deployment.yaml')[0]!, adapterImage, '/bin/keda-adapter', env.pullPolicy, (a) => [
    ...a.filter((x) => !x.startsWith('--zap-log-level')),
    '--zap-log-level=info',
    // No DNS for pods: the operator's gRPC metrics service by its Service IP (in the certificate).
    `--metrics-service-address=${OPERATOR_IP}:9666`,
  ]);
  const apiService = file('metrics-server/api_service.yaml')[0]!;
  apiService.spec.caBundle = Buffer.from(certs['ca.crt']!).toString('base64');
  await apply([...services, operator, adapter, apiService]);
  for (const d of ['keda-operator', 'keda-metrics-apiserver']) await kubectl(env, ['-n', KEDA_NAMESPACE, 'rollout', 'status', `deployment/${d}`, '--timeout=180s']);
  await kubectl(env, ['wait', '--for=condition=Available', '--timeout=120s', `apiservice/${APISERVICE}`]);
}

/** `kubectl logs` of both KEDA components (for a failing test's message). */
export async function kedaLogs(env: E2eEnv): Promise<string> {
  const parts = await Promise.all(['keda-operator', 'keda-metrics-apiserver'].map((d) => kubectl(env, ['-n', KEDA_NAMESPACE, 'logs', `deployment/${d}`, '--tail=60']).catch((e: Error) => e.message)));
  return parts.join('\n');
}

/**
 * Removes KEDA: ScaledObjects first (the operator removes its finalizers and HPAs), then the
 * APIService (an unserved API group stalls namespace deletion), the namespace, RBAC and CRDs.
 */
export async function removeKeda(env: E2eEnv): Promise<void> {
  const { config } = kedaBuild();
  const quiet = (args: string[]) => run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, ...args], { timeoutMs: 180_000 });
  await quiet(['delete', 'scaledobjects.keda.sh,scaledjobs.keda.sh', '--all', '-A', '--ignore-not-found', '--wait=true', '--timeout=60s']);
  await quiet(['delete', 'apiservice', APISERVICE, '--ignore-not-found']);
  await quiet(['delete', 'namespace', KEDA_NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  for (const rel of ['rbac/role.yaml', 'rbac/role_binding.yaml', 'rbac/aggregate_cluster_roles.yaml', 'metrics-server/role.yaml', 'metrics-server/role_binding.yaml']) {
    await quiet(['delete', '-f', path.join(config, rel), '--ignore-not-found']);
  }
  await quiet(['delete', 'crd', ...kedaCrds(config).map((c) => c.metadata.name), '--ignore-not-found', '--wait=true', '--timeout=60s']);
}
