/** The cluster's certificates and kubeconfigs (openssl, one CA, one certificate per component). */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { API_SERVER, KUBECONFIG, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, PKI, sh, STATE } from './layout.ts';

function openssl(args: string[], input?: string): string {
  return sh('openssl', args, { component: 'pki', input });
}

/** A CA (`<name>.crt`, `<name>.key`): the cluster's, and the front proxy's of the aggregation layer. */
function ensureCa(name = 'ca', cn = 'forge-cluster-ca'): void {
  if (fs.existsSync(path.join(PKI, `${name}.crt`))) return;
  fs.mkdirSync(PKI, { recursive: true, mode: 0o700 });
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(PKI, `${name}.key`)]);
  openssl([
    'req', '-x509', '-new', '-key', path.join(PKI, `${name}.key`), '-subj', `/CN=${cn}`, '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out', path.join(PKI, `${name}.crt`),
  ]);
}

/** Key + certificate signed by the cluster CA (or `ca`). `cn`/`o` name the Kubernetes user and groups. */
function ensureCert(name: string, opts: { cn: string; o?: string[]; dns?: string[]; ips?: string[]; server?: boolean; client?: boolean; ca?: string }): void {
  const crt = path.join(PKI, `${name}.crt`);
  if (fs.existsSync(crt)) return;
  const key = path.join(PKI, `${name}.key`);
  const csr = path.join(PKI, `${name}.csr`);
  const ext = path.join(PKI, `${name}.ext`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  const subj = `/CN=${opts.cn}${(opts.o ?? []).map((o) => `/O=${o}`).join('')}`;
  openssl(['req', '-new', '-key', key, '-subj', subj, '-out', csr]);
  const eku = [opts.server ? 'serverAuth' : '', opts.client ? 'clientAuth' : ''].filter(Boolean).join(',');
  const san = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)].join(',');
  fs.writeFileSync(
    ext,
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${eku}`, ...(san ? [`subjectAltName=${san}`] : [])].join('\n'),
  );
  openssl([
    'x509', '-req', '-in', csr, '-CA', path.join(PKI, `${opts.ca ?? 'ca'}.crt`), '-CAkey', path.join(PKI, `${opts.ca ?? 'ca'}.key`), '-CAcreateserial',
    '-days', '3650', '-extfile', ext, '-out', crt,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
}

function kubeconfig(file: string, user: string, server = API_SERVER): void {
  if (fs.existsSync(file)) return;
  const b64 = (f: string) => fs.readFileSync(path.join(PKI, f)).toString('base64');
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'forge', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(`${user}.crt`), 'client-key-data': b64(`${user}.key`) } }],
    contexts: [{ name: 'forge', context: { cluster: 'forge', user } }],
    'current-context': 'forge',
  };
  fs.writeFileSync(file, stringify(cfg), { mode: 0o600 });
}

/** The one name the extension API servers accept proxied requests from (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

export function ensurePki(): void {
  ensureCa();
  ensureCert('etcd', { cn: 'etcd', ips: ['127.0.0.1'], dns: ['localhost'], server: true, client: true });
  ensureCert('apiserver-etcd-client', { cn: 'kube-apiserver-etcd-client', client: true });
  ensureCert('apiserver', {
    cn: 'kube-apiserver',
    dns: ['localhost', NODE_NAME, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1', NODE_IP, KUBERNETES_SERVICE_IP],
    server: true,
  });
  ensureCert('apiserver-kubelet-client', { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'], client: true });
  ensureCert('admin', { cn: 'forge-admin', o: ['system:masters'], client: true });
  ensureCert('controller-manager', { cn: 'system:kube-controller-manager', client: true });
  ensureCert('scheduler', { cn: 'system:kube-scheduler', client: true });
  ensureCert('kube-proxy', { cn: 'system:kube-proxy', client: true });
  ensureCert('kubelet', { cn: `system:node:${NODE_NAME}`, o: ['system:nodes'], client: true });
  // The aggregation layer: the API server proxies to extension API servers (KEDA's metrics
  // adapter) as this client, and they trust the user it names because the front-proxy CA signed it.
  ensureCa('front-proxy-ca', 'forge-front-proxy-ca');
  ensureCert('front-proxy-client', { cn: FRONT_PROXY_CLIENT, client: true, ca: 'front-proxy-ca' });
  ensureCert('kubelet-server', { cn: NODE_NAME, dns: [NODE_NAME, 'localhost'], ips: [NODE_IP, '127.0.0.1'], server: true });
  if (!fs.existsSync(path.join(PKI, 'sa.key'))) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(PKI, 'sa.key')]);
    openssl(['ec', '-in', path.join(PKI, 'sa.key'), '-pubout', '-out', path.join(PKI, 'sa.pub')]);
  }
  kubeconfig(KUBECONFIG, 'admin');
  kubeconfig(path.join(STATE, 'controller-manager.kubeconfig'), 'controller-manager');
  kubeconfig(path.join(STATE, 'scheduler.kubeconfig'), 'scheduler');
  kubeconfig(path.join(STATE, 'kubelet.kubeconfig'), 'kubelet');
  kubeconfig(path.join(STATE, 'kube-proxy.kubeconfig'), 'kube-proxy');
}
