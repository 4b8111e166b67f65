/**
 * The container security context every container of the library runs with (the step containers
 * and Argo's own init/wait containers): non-root with the given UID, read-only root filesystem, no
 * privilege escalation, every capability dropped, seccomp RuntimeDefault.
 */
export function restrictedContainer(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' as const },
  };
}
