import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { basename, dirname } from 'node:path';
import { POOLS, type PoolName } from '../../steps/lib/pool/pools.ts';
import { NATS_PASSWORD_FILE, workerUser } from '../../steps/lib/pool/permissions.ts';
import { envName } from '../../steps/lib/contract.ts';
import { GITOPS_GITCONFIG_CONFIGMAP, gitconfigData, RELEASE_SETTINGS_CONFIGMAP, releaseSettingsData, releaseWorkerParts } from './release-workers.ts';
import { standardLabels } from '../constructs/labels.ts';
import { restrictedContainer } from '../constructs/security-context.ts';
import { addTyped } from '../constructs/typed-object.ts';
import { imageReference, type PlatformConfig } from '../platform-config.ts';
import { NATS_CLIENT_LABEL, NATS_NAME, natsHost, natsUrl, type PoolConfig } from '../platform-config-pools.ts';
import { quantityMiB } from '../../workflows/discovery.ts';
import { NATS_MONITOR_PORT } from './nats.ts';
import { poolSetupJob } from './pool-setup-job.ts';

export const METRICS_PORT = 9464;
export const SECRETS_DIR = '/var/run/forge/secrets';
export const workerName = (pool: PoolName) => `forge-worker-${pool}`;

/** Where KEDA reads the consumer's lag: the deployed server's monitoring port, or the same host of an external one. */
export function natsMonitorEndpoint(config: PlatformConfig): string {
  const host = config.pools.nats.deploy ? natsHost(config.pools, config.namespace) : new URL(natsUrl(config.pools, config.namespace)).hostname;
  return `${host}:${NATS_MONITOR_PORT}`;
}

/**
 * The hot worker pools (reference §2.3): per pool a StatefulSet of `forge worker` with a
 * persistent git cache per replica, its own account (no API token), a PodDisruptionBudget, a
 * NetworkPolicy (out: NATS, DNS and the git/registry ports; in: metrics only) and a KEDA
 * ScaledObject that scales it on the pool consumer's lag.
 */
export class WorkerPoolsChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });
    for (const pool of Object.keys(POOLS) as PoolName[]) this.pool(config, pool, config.pools[pool]);
    const settings = releaseSettingsData(config);
    if (settings) {
      const labels = standardLabels('worker');
      addTyped(this, new ConfigMap({ metadata: { name: RELEASE_SETTINGS_CONFIGMAP, namespace: config.namespace, labels }, data: settings }));
      if (config.release?.gitops.credentialsSecret) addTyped(this, new ConfigMap({ metadata: { name: GITOPS_GITCONFIG_CONFIGMAP, namespace: config.namespace, labels }, data: { ...gitconfigData } }));
    }
  }

  private pool(config: PlatformConfig, pool: PoolName, settings: PoolConfig): void {
    const ns = config.namespace;
    const name = workerName(pool);
    const uid = config.steps.runAsUser;
    const selector = { 'app.kubernetes.io/component': 'worker', 'forge.dev/pool': pool };
    const labels = { ...standardLabels('worker'), 'forge.dev/pool': pool };
    const grace = settings.terminationGracePeriodSeconds;
    const release = releaseWorkerParts(config, pool);
    // The release pools record where their releases are recorded (release.database).
    const database = release.env.some((e) => e.name === envName('database-url')) ? undefined : (config.pools.database ?? config.promotion?.database);
    const env: Record<string, string> = {
      pool,
      slots: String(settings.slots),
      'cache-dir': '/cache',
      // Evict below the volume's size: git needs room to fetch into a full cache.
      'cache-max-gib': String(Math.max(1, Math.floor((quantityMiB(settings.cacheSize) * 0.8) / 1024))),
      'secrets-dir': SECRETS_DIR,
      'nats-url': natsUrl(config.pools, ns),
      // Leave the kubelet a margin to see the worker exit on its own.
      'grace-seconds': String(Math.max(5, grace - 10)),
      'metrics-port': String(METRICS_PORT),
      replicas: String(config.pools.nats.replicas),
      ...(config.pools.nats.tlsSecret ? { 'nats-ca-file': '/etc/nats/tls/ca.crt' } : {}),
      ...(config.pools.nats.usersSecret ? { 'nats-user': workerUser(pool), 'nats-password-file': NATS_PASSWORD_FILE } : {}),
    };
    const usersSecret = config.pools.nats.usersSecret;
    const natsMounts = [
      ...(config.pools.nats.tlsSecret ? [{ name: 'nats-tls', mountPath: '/etc/nats/tls', readOnly: true }] : []),
      ...(usersSecret ? [{ name: 'nats-password', mountPath: dirname(NATS_PASSWORD_FILE), readOnly: true }] : []),
    ];
    const natsVolumes = [
      ...(config.pools.nats.tlsSecret ? [{ name: 'nats-tls', secret: { secretName: config.pools.nats.tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
      // Only this pool's worker password, nothing else of the users' Secret.
      ...(usersSecret ? [{ name: 'nats-password', secret: { secretName: usersSecret, defaultMode: 0o440, items: [{ key: workerUser(pool), path: basename(NATS_PASSWORD_FILE) }] } }] : []),
    ];
    addTyped(this, new ServiceAccount({ metadata: { name, namespace: ns, labels }, automountServiceAccountToken: false }));
    addTyped(this, new Service({ metadata: { name, namespace: ns, labels }, spec: { clusterIP: 'None', selector, ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics' }] } }));
    addTyped(
      this,
      new StatefulSet({
        metadata: { name, namespace: ns, labels },
        spec: {
          serviceName: name,
          replicas: settings.minReplicas,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: { ...labels, [NATS_CLIENT_LABEL]: 'true' } },
            spec: {
              serviceAccountName: name,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: grace,
              securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'worker',
                  image: imageReference(config.images.steps),
                  imagePullPolicy: config.imagePullPolicy,
                  command: ['forge', 'worker'],
                  env: [
                    ...Object.entries(env).map(([k, value]) => ({ name: envName(k), value })),
                    { name: envName('name'), valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    ...(database ? [{ name: envName('database-url'), valueFrom: { secretKeyRef: { name: database.secret.name, key: database.secret.key } } }] : []),
                    ...release.env,
                    { name: 'HOME', value: '/tmp' },
                  ],
                  ports: [{ name: 'metrics', containerPort: METRICS_PORT }],
                  readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 5 },
                  resources: { requests: { ...settings.resources.requests }, limits: { ...settings.resources.limits } },
                  securityContext: restrictedContainer(uid),
                  volumeMounts: [
                    { name: 'cache', mountPath: '/cache' },
                    { name: 'tmp', mountPath: '/tmp' },
                    ...settings.secrets.map((s) => ({ name: `secret-${s}`, mountPath: `${SECRETS_DIR}/${ns}/${s}`, readOnly: true })),
                    ...natsMounts,
                    ...release.volumeMounts,
                  ],
                },
              ],
              volumes: [
                { name: 'tmp', emptyDir: { sizeLimit: '10Gi' } },
                ...settings.secrets.map((s) => ({ name: `secret-${s}`, secret: { secretName: s, defaultMode: 0o440 } })),
                ...natsVolumes,
                ...(release.volumes as never[]),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'cache' },
              spec: {
                accessModes: ['ReadWriteOnce'],
                resources: { requests: { storage: settings.cacheSize } },
                ...(settings.storageClass ? { storageClassName: settings.storageClass } : {}),
              },
            },
          ],
        },
      }),
    );
    if (settings.minReplicas === 0) {
      const setupEnv = ['pool', 'nats-url', 'replicas', 'nats-ca-file', 'nats-user', 'nats-password-file'].flatMap((k) => (env[k] ? [{ name: envName(k), value: env[k] }] : []));
      // Labels of its own: not one of the pool's workers (PDB, Service), but a NATS client.
      const setupLabels = { ...standardLabels('pool-setup'), 'forge.dev/pool': pool, [NATS_CLIENT_LABEL]: 'true' };
      addTyped(this, poolSetupJob({ name, namespace: ns, labels: setupLabels, serviceAccountName: name, image: imageReference(config.images.steps), imagePullPolicy: config.imagePullPolicy, uid, env: setupEnv, volumeMounts: natsMounts, volumes: natsVolumes }));
    }
    addTyped(this, new PodDisruptionBudget({ metadata: { name, namespace: ns, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: selector } } }));
    addTyped(
      this,
      new NetworkPolicy({
        metadata: { name, namespace: ns, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ ports: [{ port: METRICS_PORT, protocol: 'TCP' }] }],
          egress: [
            config.pools.nats.deploy
              ? { to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': NATS_NAME } } }], ports: [{ port: 4222, protocol: 'TCP' }] }
              : { ports: [{ port: Number(new URL(natsUrl(config.pools, ns)).port || 4222), protocol: 'TCP' }] },
            { ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
            { ports: config.pools.egressPorts.map((port) => ({ port, protocol: 'TCP' })) },
          ],
        },
      }),
    );
    if (config.pools.keda.enabled) {
      addTyped(
        this,
        new ScaledObject({
          metadata: { name, namespace: ns, labels },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name },
            minReplicaCount: settings.minReplicas,
            maxReplicaCount: settings.maxReplicas,
            pollingInterval: config.pools.keda.pollingInterval,
            cooldownPeriod: config.pools.keda.cooldownPeriod,
            // KEDA's cooldown applies to scaling to zero only; above minReplicas the HPA shrinks a
            // pool after its own scale-down window (300 s unless set). The same period for both,
            // so that cooldownPeriod means "idle this long, then shrink" for every pool (KEDA's
            // CRD caps the window at 3600 s).
            advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(config.pools.keda.cooldownPeriod, 3600) } } } },
            triggers: [
              {
                type: 'nats-jetstream',
                metadata: {
                  natsServerMonitoringEndpoint: natsMonitorEndpoint(config),
                  account: '$G',
                  stream: POOLS[pool].stream,
                  consumer: POOLS[pool].consumer,
                  lagThreshold: String(settings.lagThreshold),
                  activationLagThreshold: '0',
                },
              },
            ],
          },
        }),
      );
    }
  }
}
