/** kubectl and ctr against the local cluster. */
import { KUBECONFIG, paths, sh, VERSIONS, CONTAINERD_SOCK } from './layout.ts';

export function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  return sh(paths().kubernetes.kubectl!, ['--kubeconfig', KUBECONFIG, ...args], { component: 'kubectl', ...opts });
}

export function ctr(args: string[], allowFail = false): string {
  return sh(VERSIONS.apt.ctr!.binary, ['--address', CONTAINERD_SOCK, '--namespace', 'k8s.io', ...args], {
    component: 'containerd',
    allowFail,
    timeout: 600_000,
  });
}
