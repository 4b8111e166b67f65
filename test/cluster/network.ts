/** The pod bridge, the isolation rules, and what the kubelet and kube-proxy leave on the host. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BRIDGE, log, NODE_IP, RUN, sh, STATE } from './layout.ts';

/** Rules that keep pod traffic on the bridge: pods reach the node and each other, nothing else. */
const ISOLATION_RULES = [
  ['FORWARD', '-i', BRIDGE, '!', '-o', BRIDGE, '-m', 'comment', '--comment', 'forge-cluster: pods stay on this machine', '-j', 'DROP'],
  ['FORWARD', '-o', BRIDGE, '!', '-i', BRIDGE, '-m', 'comment', '--comment', 'forge-cluster: pods stay on this machine', '-j', 'DROP'],
];

export function ensureBridge(): void {
  const exists = spawnSync('ip', ['link', 'show', BRIDGE], { encoding: 'utf8' }).status === 0;
  if (!exists) sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge'], { component: 'network' });
  const addrs = sh('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE], { component: 'network' });
  if (!addrs.includes(`${NODE_IP}/`)) sh('ip', ['addr', 'add', `${NODE_IP}/16`, 'dev', BRIDGE], { component: 'network' });
  sh('ip', ['link', 'set', BRIDGE, 'up'], { component: 'network' });
  // The CNI bridge plugin (isGateway) turns IPv4 forwarding on; remember the machine's setting
  // so that down restores it, and never let pod traffic be forwarded off the bridge.
  const fwdFile = path.join(RUN, 'ip_forward.orig');
  if (!fs.existsSync(fwdFile)) fs.writeFileSync(fwdFile, fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'));
  for (const rule of ISOLATION_RULES) {
    if (spawnSync('iptables', ['-w', '-C', ...rule]).status !== 0) sh('iptables', ['-w', '-I', ...rule], { component: 'network' });
  }
}

export function removeBridge(): void {
  for (const rule of ISOLATION_RULES) {
    while (spawnSync('iptables', ['-w', '-C', ...rule]).status === 0) sh('iptables', ['-w', '-D', ...rule], { allowFail: true, component: 'network' });
  }
  if (spawnSync('ip', ['link', 'show', BRIDGE]).status === 0) sh('ip', ['link', 'del', BRIDGE], { allowFail: true, component: 'network' });
  const fwdFile = path.join(RUN, 'ip_forward.orig');
  if (fs.existsSync(fwdFile)) fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', fs.readFileSync(fwdFile, 'utf8'));
}

/** Chains the kubelet creates for itself (kube-proxy --cleanup removes kube-proxy's own). */
const KUBELET_CHAINS = ['KUBE-FIREWALL', 'KUBE-KUBELET-CANARY', 'KUBE-IPTABLES-HINT'];

export function removeKubeletChains(): void {
  for (const cmd of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = spawnSync(cmd, ['-w', '-t', table, '-S'], { encoding: 'utf8' }).stdout ?? '';
      for (const line of rules.split('\n')) {
        const m = /^-A (\S+) (.*-j (\S+))$/.exec(line);
        if (m && KUBELET_CHAINS.includes(m[3]!) && !KUBELET_CHAINS.includes(m[1]!)) {
          spawnSync(cmd, ['-w', '-t', table, '-D', m[1]!, ...m[2]!.split(' ').map((a) => a.replace(/^"|"$/g, ''))]);
        }
      }
      for (const chain of KUBELET_CHAINS) {
        if (new RegExp(`^-N ${chain}$`, 'm').test(rules)) {
          spawnSync(cmd, ['-w', '-t', table, '-F', chain]);
          spawnSync(cmd, ['-w', '-t', table, '-X', chain]);
        }
      }
    }
  }
}

/** The kubelet's cgroup tree (/kubepods in every cgroup v1 hierarchy), empty once pods are gone. */
export function removePodCgroups(): void {
  const rmTree = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      log(`cgroup ${dir} not removed: ${(e as Error).message}`);
    }
  };
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, 'kubepods');
    if (fs.existsSync(dir)) rmTree(dir);
  }
}

/** Every mount point under our directories, deepest first. */
export function ourMounts(): string[] {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m.startsWith(`${STATE}/`) || m.startsWith(`${RUN}/`));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

