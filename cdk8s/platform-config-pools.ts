import { z } from 'zod';
import { dnsLabel, quantity, resources } from './platform-config-primitives.ts';

/**
 * The `pools` section of the platform configuration: the NATS JetStream broker the dispatchers
 * and workers share, the dispatcher container's size, and each hot pool's workers
 * (docs/platform-config.md, `pools`; reference catalyst-forge-spec §2.3 for the sizes).
 */
const pool = (defaults: { min: number; max: number; cache: string; slots: number; resources: z.infer<typeof resources> }) =>
  z
    .strictObject({
      /** Worker replicas when idle (KEDA scales between min and max on the consumer's lag). */
      minReplicas: z.number().int().min(0).default(defaults.min),
      /** At most 50 per pool (reference §2.1). */
      maxReplicas: z.number().int().min(1).max(50).default(defaults.max),
      /** Jobs one worker runs at once. */
      slots: z.number().int().min(1).max(64).default(defaults.slots),
      /** Size of each worker's persistent git cache (a PersistentVolumeClaim per replica). */
      cacheSize: quantity.default(defaults.cache),
      /** Storage class of the cache volumes; the cluster's default when unset. */
      storageClass: dnsLabel.optional(),
      /** Pending jobs per replica KEDA aims for (`lagThreshold`). */
      lagThreshold: z.number().int().min(1).max(1000).default(2),
      resources: resources.default(defaults.resources),
      /** Time a stopping worker gives its running jobs before handing them back (seconds). */
      terminationGracePeriodSeconds: z.number().int().min(10).max(7200).default(1800),
      /**
       * Kubernetes Secrets mounted read-only for the `kubernetes` secret provider, as
       * `<namespace>/<secretName>/<key>` under /var/run/forge/secrets (they must live in the pool's namespace).
       */
      secrets: z.array(dnsLabel).default([]),
    })
    .refine((p) => p.minReplicas <= p.maxReplicas, { message: 'minReplicas must not exceed maxReplicas', path: ['minReplicas'] });

export const poolsSchema = z
  .strictObject({
    nats: z
      .strictObject({
        /** Deploy NATS (one JetStream server, StatefulSet) with the pools; `false` uses `url` as it is. */
        deploy: z.boolean().default(true),
        /** Client URL; default: the deployed server's Service. */
        url: z.string().regex(/^(nats|tls):\/\/[^\s@]+$/, 'must be nats://host:port or tls://host:port, without credentials').optional(),
        /**
         * Pin the deployed Service's cluster IP and reach NATS by it, for clusters without DNS for
         * pods (the project's own test cluster). Default: the Service's DNS name.
         */
        clusterIP: z.ipv4().optional(),
        /** JetStream storage of the deployed server. */
        storage: quantity.default('10Gi'),
        storageClass: dnsLabel.optional(),
        /** A Secret (`ca.crt`, `tls.crt`, `tls.key`) to serve and verify TLS with; plain TCP inside the namespace without it. */
        tlsSecret: dnsLabel.optional(),
        /**
         * A Secret with one password per NATS user (keys `dispatch-<pool>` and `worker-<pool>` for
         * each pool): the deployed server then admits only those users, each with the permissions
         * of steps/lib/pool/permissions.ts — a pool's dispatchers queue on that pool only, its
         * workers take that pool's jobs only. Without it, any pod the NetworkPolicy lets in may use
         * every subject.
         */
        usersSecret: dnsLabel.optional(),
        /** Stream replicas: 1 on the deployed single server; 3 or 5 on a NATS cluster of your own (`deploy: false`). */
        replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
        /** Requests and limits of the deployed server. */
        resources: resources.default({ requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } }),
      })
      .refine((n) => !n.deploy || n.replicas === 1, { message: 'the deployed NATS is one server: replicas must be 1 (run a NATS cluster yourself and set deploy: false for 3 or 5)', path: ['replicas'] })
      .refine((n) => n.deploy || n.url !== undefined, { message: 'set url when NATS is not deployed with the pools', path: ['url'] })
      .prefault({}),
    /** KEDA ScaledObjects (the `nats-jetstream` scaler on each pool's consumer); needs KEDA ≥ 2.x in the cluster. */
    keda: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Namespace KEDA's operator runs in: let through to NATS's monitoring port. */
        namespace: dnsLabel.default('keda'),
        pollingInterval: z.number().int().min(1).max(3600).default(15),
        cooldownPeriod: z.number().int().min(0).max(86400).default(300),
      })
      .prefault({}),
    /**
     * PostgreSQL of the records, where workers write run, task and step executions: a Secret key
     * holding its postgresql:// URL (the runtime role's). Default: `promotion.database`; without
     * either, executions are not recorded (the workers say so at start).
     */
    database: z.strictObject({ secret: z.strictObject({ name: dnsLabel, key: z.string().default('url') }) }).optional(),
    /** Ports the workers may reach outside the namespace (git over ssh, http(s), git://; registries). */
    egressPorts: z.array(z.number().int().min(1).max(65535)).default([22, 80, 443, 9418]),
    /** The dispatcher container of every pool-backed task (reference §2.2: 50m/128Mi → 200m/256Mi). */
    dispatcher: z.strictObject({ resources: resources.default({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '200m', memory: '256Mi' } }) }).prefault({}),
    discovery: pool({ min: 1, max: 5, cache: '50Gi', slots: 4, resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '2', memory: '4Gi' } } }).prefault({}),
    ci: pool({ min: 2, max: 20, cache: '200Gi', slots: 2, resources: { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '8', memory: '16Gi' } } }).prefault({}),
    artifact: pool({ min: 1, max: 10, cache: '150Gi', slots: 2, resources: { requests: { cpu: '3', memory: '6Gi' }, limits: { cpu: '6', memory: '12Gi' } } }).prefault({}),
    release: pool({ min: 1, max: 10, cache: '100Gi', slots: 3, resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } } }).prefault({}),
  })
  .prefault({});

export type PoolsConfig = z.infer<typeof poolsSchema>;
export type PoolConfig = PoolsConfig['ci'];

/** Pods that may talk to NATS carry this label (value "true"): pool-backed tasks' dispatchers and the workers. */
export const NATS_CLIENT_LABEL = 'forge.dev/nats-client';

/** Name of the deployed NATS Service and StatefulSet. */
export const NATS_NAME = 'forge-nats';

/** The deployed server's host: its Service's DNS name, or its pinned cluster IP. */
export function natsHost(pools: PoolsConfig, namespace: string): string {
  return pools.nats.clusterIP ?? `${NATS_NAME}.${namespace}.svc`;
}

/** The URL dispatchers and workers connect to. */
export function natsUrl(pools: PoolsConfig, namespace: string): string {
  return pools.nats.url ?? `${pools.nats.tlsSecret ? 'tls' : 'nats'}://${natsHost(pools, namespace)}:4222`;
}
