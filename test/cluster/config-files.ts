/** Configuration files of containerd (+ CNI), the kubelet and kube-proxy. */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BRIDGE, CONTAINERD_SOCK, NODE_IP, NODE_NAME, PKI, POD_CIDR, RUN, STATE, VERSIONS } from './layout.ts';

/** containerd's per-registry host configuration directory (certs.d). */
export const REGISTRY_HOSTS_DIR = path.join(STATE, 'containerd', 'certs.d');

/** Lets the node pull from a registry served over plain HTTP (a test's registry on the node address). */
export function allowPlainHttpRegistry(host: string, dir = REGISTRY_HOSTS_DIR): void {
  fs.mkdirSync(path.join(dir, host), { recursive: true });
  fs.writeFileSync(path.join(dir, host, 'hosts.toml'), `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`);
}

export function writeContainerdConfig(pause: string): string {
  fs.mkdirSync(REGISTRY_HOSTS_DIR, { recursive: true });
  const file = path.join(STATE, 'containerd', 'config.toml');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.mkdirSync(path.join(STATE, 'cni', 'net.d'), { recursive: true });
  const toml = `version = 2
root = "${path.join(STATE, 'containerd', 'root')}"
state = "${path.join(RUN, 'containerd')}"
oom_score = 0

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${path.join(RUN, 'containerd-ttrpc.sock')}"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(STATE, 'containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause}"
  enable_selinux = false
  # The machines' root lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (the kubelet asks
  # -998 for sandboxes). Clamp it to containerd's own value instead.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${process.env.FORGE_CLUSTER_RUNC || VERSIONS.apt.runc!.binary}"
        Root = "${path.join(RUN, 'runc')}"
        SystemdCgroup = false
  # Per-registry hosts (certs.d/<host:port>/hosts.toml), read at each pull: a test that serves a
  # registry over plain HTTP on the node address lets the kubelet pull from it (registryHosts).
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${REGISTRY_HOSTS_DIR}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${path.join(STATE, 'cni', 'net.d')}"
    max_conf_num = 1
`;
  fs.writeFileSync(file, toml);
  const cni = {
    cniVersion: '1.0.0',
    name: 'forge',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_CIDR, rangeStart: '10.88.1.1', rangeEnd: '10.88.255.254', gateway: NODE_IP }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: path.join(STATE, 'cni', 'ipam'),
        },
      },
    ],
  };
  fs.writeFileSync(path.join(STATE, 'cni', 'net.d', '10-forge.conflist'), `${JSON.stringify(cni, null, 2)}\n`);
  return file;
}

export function writeKubeletConfig(): string {
  const file = path.join(STATE, 'kubelet-config.yaml');
  const cfg = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: path.join(PKI, 'ca.crt') },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: path.join(PKI, 'kubelet-server.crt'),
    tlsPrivateKeyFile: path.join(PKI, 'kubelet-server.key'),
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCK}`,
    // The development machines mount cgroup v1 (hybrid) and run no systemd.
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    clusterDomain: 'cluster.local',
    // No DNS for pods: the machine's resolver is off-limits to them (and they need none).
    resolvConf: '',
    podLogsDir: path.join(STATE, 'pod-logs'),
    maxPods: 60,
    serializeImagePulls: false,
    // A shared development disk: evict on real exhaustion only, never collect the local images
    // (they cannot be pulled again).
    evictionHard: { 'memory.available': '200Mi', 'nodefs.available': '2%', 'imagefs.available': '2%', 'nodefs.inodesFree': '2%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    containerLogMaxSize: '10Mi',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
    staticPodPath: '',
    shutdownGracePeriod: '0s',
  };
  fs.writeFileSync(file, stringify(cfg));
  return file;
}

export function writeKubeProxyConfig(): string {
  const file = path.join(STATE, 'kube-proxy-config.yaml');
  const cfg = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: path.join(STATE, 'kube-proxy.kubeconfig') },
    hostnameOverride: NODE_NAME,
    clusterCIDR: POD_CIDR,
    bindAddress: '127.0.0.1',
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Leave the machine's conntrack sysctls as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // No route_localnet: NodePorts are not served on 127.0.0.1.
    iptables: { localhostNodePorts: false },
    nodePortAddresses: [`${NODE_IP}/32`],
  };
  fs.writeFileSync(file, stringify(cfg));
  return file;
}
