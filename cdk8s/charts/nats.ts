import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { standardLabels } from '../constructs/labels.ts';
import { restrictedContainer } from '../constructs/security-context.ts';
import { addTyped } from '../constructs/typed-object.ts';
import { imageReference, type PlatformConfig } from '../platform-config.ts';
import { NATS_CLIENT_LABEL, NATS_NAME } from '../platform-config-pools.ts';
import { authorizationConf, natsUsers, passwordVariable } from '../../steps/lib/pool/permissions.ts';

const NATS_UID = 1000;
export const NATS_MONITOR_PORT = 8222;

/** nats.conf: one JetStream server; TLS when a secret is given. */
export function natsConf(config: PlatformConfig): string {
  const { nats } = config.pools;
  return [
    'server_name: $POD_NAME',
    'port: 4222',
    `http_port: ${NATS_MONITOR_PORT}`,
    'jetstream {',
    '  store_dir: /data/jetstream',
    '}',
    ...(nats.usersSecret ? [authorizationConf()] : []),
    ...(nats.tlsSecret ? ['tls {', '  cert_file: /etc/nats/tls/tls.crt', '  key_file: /etc/nats/tls/tls.key', '  ca_file: /etc/nats/tls/ca.crt', '}'] : []),
    '',
  ].join('\n');
}

/**
 * The NATS JetStream server of the hot pools (when `pools.nats.deploy`): a one-replica
 * StatefulSet with its store on a PersistentVolume, a Service, and a NetworkPolicy that lets in
 * only the pool clients (4222) and the monitoring readers in the namespace and KEDA's (8222).
 */
export class NatsChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });
    const ns = config.namespace;
    const { nats } = config.pools;
    const labels = { ...standardLabels('nats'), 'app.kubernetes.io/instance': NATS_NAME };
    const selector = { 'app.kubernetes.io/component': 'nats', 'app.kubernetes.io/instance': NATS_NAME };

    addTyped(this, new ConfigMap({ metadata: { name: `${NATS_NAME}-config`, namespace: ns, labels }, data: { 'nats.conf': natsConf(config) } }));
    addTyped(
      this,
      new Service({
        metadata: { name: NATS_NAME, namespace: ns, labels },
        spec: {
          selector,
          ...(nats.clusterIP ? { clusterIP: nats.clusterIP } : {}),
          ports: [
            { name: 'client', port: 4222, targetPort: 'client' },
            { name: 'monitor', port: NATS_MONITOR_PORT, targetPort: 'monitor' },
          ],
        },
      }),
    );
    addTyped(
      this,
      new StatefulSet({
        metadata: { name: NATS_NAME, namespace: ns, labels },
        spec: {
          serviceName: NATS_NAME,
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: NATS_UID, runAsGroup: NATS_UID, fsGroup: NATS_UID, seccompProfile: { type: 'RuntimeDefault' } },
              terminationGracePeriodSeconds: 60,
              containers: [
                {
                  name: 'nats',
                  image: imageReference(config.images.nats),
                  imagePullPolicy: config.imagePullPolicy,
                  args: ['--config', '/etc/nats/nats.conf'],
                  env: [
                    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    // nats.conf reads each user's password from the environment ($NATS_PASSWORD_…).
                    ...(nats.usersSecret ? natsUsers().map((user) => ({ name: passwordVariable(user), valueFrom: { secretKeyRef: { name: nats.usersSecret!, key: user } } })) : []),
                  ],
                  ports: [
                    { name: 'client', containerPort: 4222 },
                    { name: 'monitor', containerPort: NATS_MONITOR_PORT },
                  ],
                  readinessProbe: { httpGet: { path: '/healthz?js-enabled-only=true', port: 'monitor' }, periodSeconds: 5 },
                  livenessProbe: { httpGet: { path: '/healthz?js-enabled-only=true', port: 'monitor' }, periodSeconds: 30, failureThreshold: 5, initialDelaySeconds: 10 },
                  resources: { requests: { ...nats.resources.requests }, limits: { ...nats.resources.limits } },
                  securityContext: restrictedContainer(NATS_UID),
                  volumeMounts: [
                    { name: 'config', mountPath: '/etc/nats', readOnly: true },
                    { name: 'data', mountPath: '/data' },
                    ...(nats.tlsSecret ? [{ name: 'tls', mountPath: '/etc/nats/tls', readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [
                { name: 'config', configMap: { name: `${NATS_NAME}-config` } },
                ...(nats.tlsSecret ? [{ name: 'tls', secret: { secretName: nats.tlsSecret, defaultMode: 0o440 } }] : []),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: {
                accessModes: ['ReadWriteOnce'],
                resources: { requests: { storage: nats.storage } },
                ...(nats.storageClass ? { storageClassName: nats.storageClass } : {}),
              },
            },
          ],
        },
      }),
    );
    addTyped(
      this,
      new NetworkPolicy({
        metadata: { name: NATS_NAME, namespace: ns, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ['Ingress'],
          ingress: [
            { from: [{ podSelector: { matchLabels: { [NATS_CLIENT_LABEL]: 'true' } } }], ports: [{ port: 4222, protocol: 'TCP' }] },
            {
              from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': config.pools.keda.namespace } } }],
              ports: [{ port: NATS_MONITOR_PORT, protocol: 'TCP' }],
            },
          ],
        },
      }),
    );
  }
}
