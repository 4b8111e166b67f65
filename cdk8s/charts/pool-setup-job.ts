import { Job } from 'kubernetes-models/batch/v1/Job';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { restrictedContainer } from '../constructs/security-context.ts';

/**
 * A pool that may scale to zero needs its stream and consumer before any worker runs: KEDA reads
 * the consumer's lag to start the first worker, and a dispatcher cannot queue on a stream that is
 * not there. This Job does what a starting worker does first (`forge worker --setup-only`), as the
 * pool's worker user, retrying until NATS answers.
 */
export interface PoolSetupParts {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccountName: string;
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  uid: number;
  /** The worker's NATS settings (FORGE_* variables) and the mounts of its credentials. */
  env: IEnvVar[];
  volumeMounts: IVolumeMount[];
  volumes: IVolume[];
}

export function poolSetupJob(p: PoolSetupParts): Job {
  return new Job({
    metadata: { name: `${p.name}-setup`, namespace: p.namespace, labels: p.labels },
    spec: {
      backoffLimit: 10,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: p.labels },
        spec: {
          restartPolicy: 'OnFailure',
          serviceAccountName: p.serviceAccountName,
          automountServiceAccountToken: false,
          // fsGroup: the password file is group-readable (mode 0440), as for the workers.
          securityContext: { runAsNonRoot: true, runAsUser: p.uid, runAsGroup: p.uid, fsGroup: p.uid, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'setup',
              image: p.image,
              imagePullPolicy: p.imagePullPolicy,
              command: ['forge', 'worker', '--setup-only'],
              env: [...p.env, { name: 'HOME', value: '/tmp' }],
              resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
              securityContext: restrictedContainer(p.uid),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...p.volumeMounts],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, ...p.volumes],
        },
      },
    },
  });
}
