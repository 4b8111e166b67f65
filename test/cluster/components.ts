/** The cluster's processes in start order, each with its command line and readiness check. */
import fs from 'node:fs';
import path from 'node:path';
import { writeContainerdConfig, writeKubeletConfig, writeKubeProxyConfig } from './config-files.ts';
import { kubectl } from './kubectl.ts';
import { API_SERVER, CONTAINERD_SOCK, NODE_IP, NODE_NAME, paths, PKI, SERVICE_CIDR, sh, STATE, VERSIONS } from './layout.ts';
import { FRONT_PROXY_CLIENT } from './pki.ts';
import { adminTls, expectOk, type Component } from './processes.ts';

let kubeletStartedAt = 0;

/** A controller's identity toward the API server, and its own serving address (loopback only). */
function controlPlaneClient(name: string): string[] {
  const kubeconfig = path.join(STATE, `${name}.kubeconfig`);
  return ['--kubeconfig', kubeconfig, '--authentication-kubeconfig', kubeconfig, '--authorization-kubeconfig', kubeconfig, '--bind-address', '127.0.0.1'];
}

export function components(): Component[] {
  const p = paths();
  const k = p.kubernetes;
  const pki = (f: string) => path.join(PKI, f);
  return [
    {
      name: 'etcd',
      timeoutMs: 30_000,
      argv: () => [
        VERSIONS.apt.etcd!.binary,
        '--name', 'forge',
        '--data-dir', path.join(STATE, 'etcd'),
        '--listen-client-urls', 'https://127.0.0.1:2379',
        '--advertise-client-urls', 'https://127.0.0.1:2379',
        '--listen-peer-urls', 'http://127.0.0.1:2380',
        '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
        '--initial-cluster', 'forge=http://127.0.0.1:2380',
        '--listen-metrics-urls', 'http://127.0.0.1:2381',
        '--cert-file', pki('etcd.crt'), '--key-file', pki('etcd.key'),
        '--trusted-ca-file', pki('ca.crt'), '--client-cert-auth',
        '--quota-backend-bytes', String(2 << 30),
        '--snapshot-count', '10000',
      ],
      env: { ETCD_UNSUPPORTED_ARCH: '' },
      ready: () => expectOk('http://127.0.0.1:2381/health'),
    },
    {
      name: 'kube-apiserver',
      timeoutMs: 90_000,
      argv: () => [
        k['kube-apiserver']!,
        '--bind-address', NODE_IP,
        '--advertise-address', NODE_IP,
        '--secure-port', '6443',
        '--etcd-servers', 'https://127.0.0.1:2379',
        '--etcd-cafile', pki('ca.crt'), '--etcd-certfile', pki('apiserver-etcd-client.crt'), '--etcd-keyfile', pki('apiserver-etcd-client.key'),
        '--service-cluster-ip-range', SERVICE_CIDR,
        '--tls-cert-file', pki('apiserver.crt'), '--tls-private-key-file', pki('apiserver.key'),
        '--client-ca-file', pki('ca.crt'),
        '--kubelet-client-certificate', pki('apiserver-kubelet-client.crt'), '--kubelet-client-key', pki('apiserver-kubelet-client.key'),
        '--kubelet-certificate-authority', pki('ca.crt'),
        '--kubelet-preferred-address-types', 'InternalIP',
        // The aggregation layer (extension API servers such as KEDA's metrics adapter, which the
        // HPA reads external metrics from): requests are proxied with the front-proxy client's
        // certificate and the user in these headers; straight to the Service's endpoint IP, since
        // nothing on this cluster resolves Service names.
        '--requestheader-client-ca-file', pki('front-proxy-ca.crt'),
        '--requestheader-allowed-names', FRONT_PROXY_CLIENT,
        '--requestheader-username-headers', 'X-Remote-User',
        '--requestheader-group-headers', 'X-Remote-Group',
        '--requestheader-extra-headers-prefix', 'X-Remote-Extra-',
        '--proxy-client-cert-file', pki('front-proxy-client.crt'), '--proxy-client-key-file', pki('front-proxy-client.key'),
        '--enable-aggregator-routing=true',
        '--service-account-key-file', pki('sa.pub'),
        '--service-account-signing-key-file', pki('sa.key'),
        '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
        '--authorization-mode', 'Node,RBAC',
        '--enable-admission-plugins', 'NodeRestriction',
        '--allow-privileged=true',
        '--profiling=false',
        '--event-ttl', '1h',
        // Debian's etcd 3.4.23 predates 3.4.31, the first 3.4 with reliable watch progress
        // notifications: the API server then refuses watch-list streams (RequestWatchProgress),
        // and with WatchList on it turns every watch from resourceVersion "" or "0" into one,
        // so clients such as Argo's controller lose their watches and fall back to slow relists.
        '--feature-gates', 'WatchList=false',
        '--v', '1',
      ],
      ready: () => expectOk(`${API_SERVER}/readyz`, adminTls),
    },
    {
      name: 'containerd',
      timeoutMs: 30_000,
      argv: () => [VERSIONS.apt.containerd!.binary, '--config', writeContainerdConfig(p.images.pause!.ref), '--log-level', 'info'],
      ready: async () => {
        if (!fs.existsSync(CONTAINERD_SOCK)) throw new Error(`no socket ${CONTAINERD_SOCK} yet`);
        sh(VERSIONS.apt.ctr!.binary, ['--address', CONTAINERD_SOCK, 'version'], { component: 'containerd', timeout: 5000 });
      },
    },
    {
      name: 'kube-controller-manager',
      timeoutMs: 60_000,
      argv: () => [
        k['kube-controller-manager']!,
        ...controlPlaneClient('controller-manager'),
        '--secure-port', '10257',
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        '--service-account-private-key-file', pki('sa.key'),
        '--root-ca-file', pki('ca.crt'),
        '--cluster-signing-cert-file', pki('ca.crt'), '--cluster-signing-key-file', pki('ca.key'),
        '--cluster-name', 'forge',
        '--allocate-node-cidrs=false',
        '--controllers', '*',
        '--profiling=false',
        '--v', '1',
      ],
      ready: () => expectOk('https://127.0.0.1:10257/healthz', { insecure: true }),
    },
    {
      name: 'kube-scheduler',
      timeoutMs: 60_000,
      argv: () => [
        k['kube-scheduler']!,
        ...controlPlaneClient('scheduler'),
        '--secure-port', '10259',
        '--leader-elect=false',
        '--profiling=false',
        '--v', '1',
      ],
      ready: () => expectOk('https://127.0.0.1:10259/healthz', { insecure: true }),
    },
    {
      name: 'kubelet',
      timeoutMs: 90_000,
      argv: () => {
        kubeletStartedAt = Math.floor(Date.now() / 1000) * 1000;
        return kubeletArgv();
      },
      ready: kubeletReady,
    },
    {
      name: 'kube-proxy',
      timeoutMs: 60_000,
      argv: () => [k['kube-proxy']!, '--config', writeKubeProxyConfig(), '--v', '1'],
      ready: () => expectOk('http://127.0.0.1:10256/healthz'),
    },
  ];
}

function kubeletArgv(): string[] {
  return [
    paths().kubernetes.kubelet!,
    '--config', writeKubeletConfig(),
    '--kubeconfig', path.join(STATE, 'kubelet.kubeconfig'),
    '--root-dir', path.join(STATE, 'kubelet'),
    '--node-ip', NODE_IP,
    '--hostname-override', NODE_NAME,
    '--v', '1',
  ];
}

async function kubeletReady(): Promise<void> {
  await expectOk('http://127.0.0.1:10248/healthz');
  const node = JSON.parse(kubectl(['get', 'node', NODE_NAME, '-o', 'json'])) as {
    status?: { conditions?: { type: string; status: string; message?: string; lastHeartbeatTime?: string }[] };
  };
  const readyCond = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (readyCond?.status !== 'True') throw new Error(`node ${NODE_NAME} not Ready: ${readyCond?.message ?? 'no condition yet'}`);
  // A Node object kept from an earlier run says Ready until it is updated: wait for this
  // kubelet's own report.
  const beat = Date.parse(readyCond.lastHeartbeatTime ?? '');
  if (kubeletStartedAt && !(beat >= kubeletStartedAt - 1000)) throw new Error(`node ${NODE_NAME}: no status from this kubelet yet`);
}
