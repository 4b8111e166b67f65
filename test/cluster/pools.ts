/**
 * The hot pools on the test cluster: the NATS and worker-pool charts as the library generates
 * them, with the locally built images, small sizes for a 2-core node, and hostPath
 * PersistentVolumes standing in for a storage provisioner (the local cluster has none).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { natsUsers } from '../../steps/lib/pool/permissions.ts';
import { kubectl, localCluster, synthesizeAndApply, type E2eEnv } from './e2e-env.ts';

const STORAGE_CLASS = 'forge-e2e-local';
const USERS_SECRET = 'forge-nats-users';
const small = { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '1Gi' } };

export function natsImage(): string {
  const image = process.env.FORGE_E2E_NATS_IMAGE || localCluster()?.images.nats;
  if (!image) throw new Error('FORGE_E2E_NATS_IMAGE is not set and the local cluster has no nats image (node images/cluster/build.mjs)');
  return image;
}

const pvRoot = (env: E2eEnv) => path.join(os.tmpdir(), `forge-e2e-pv-${env.namespace}`);

/** Static volumes the StatefulSets' claims bind to; world-writable: hostPath ignores fsGroup. */
async function createVolumes(env: E2eEnv, count: number): Promise<void> {
  // A volume a claim was bound to stays Released: leftovers of an earlier run go first, and every
  // run names its volumes afresh.
  await kubectl(env, ['delete', 'pv', '-l', `forge-e2e=${env.namespace}`, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  const run = Date.now().toString(36);
  const docs = Array.from({ length: count }, (_, i) => {
    const dir = path.join(pvRoot(env), String(i));
    fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
    fs.chmodSync(dir, 0o1777);
    return `apiVersion: v1
kind: PersistentVolume
metadata: { name: ${env.namespace}-pv-${run}-${i}, labels: { forge-e2e: "${env.namespace}" } }
spec:
  capacity: { storage: 2Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ${STORAGE_CLASS}
  hostPath: { path: ${dir}, type: Directory }`;
  });
  await kubectl(env, ['apply', '-f', '-'], docs.join('\n---\n'));
}

export interface PoolsOptions {
  ciReplicas?: number;
  /** The ci pool's maximum (KEDA scales it between ciReplicas and this); default ciReplicas. */
  ciMaxReplicas?: number;
  /** Jobs one ci worker runs at once (default 3). */
  ciSlots?: number;
  /** Let KEDA scale the pools (keda.ts deployKeda first): the library's ScaledObjects with these settings. */
  keda?: { pollingInterval: number; cooldownPeriod: number };
  /** Seconds a stopping worker has (the worker hands its jobs back 10 s before). */
  grace?: number;
  /**
   * The release stage too (release.e2e.ts): one artifact and one release worker, these templates
   * and charts, and the release, promotion and registry settings `adjust` puts in the config.
   * Without it the config has no release section (the pipeline ends after its groups).
   */
  release?: { templates: string[]; charts: string[]; adjust: (config: Record<string, unknown>) => void };
}

/**
 * Deploys NATS, the discovery and ci pools, and forge-phase + forge-pipeline; waits for them.
 * Returns the NATS users' passwords (for a test that queues jobs itself); the synthesized
 * manifests are left in `<tmp>/manifests`.
 */
export async function deployPools(env: E2eEnv, tmp: string, opts: PoolsOptions = {}): Promise<Record<string, string>> {
  const image = natsImage();
  const at = image.lastIndexOf(':');
  const ciReplicas = opts.ciReplicas ?? 2;
  const ciMax = Math.max(ciReplicas, opts.ciMaxReplicas ?? ciReplicas);
  const releasing = opts.release ? 1 : 0;
  await createVolumes(env, 2 + ciMax + 2 + 2 * releasing);
  // One password per pool user: NATS admits only them, each with its own permissions.
  // Starting with a letter: nats-server reads a `$VARIABLE`'s value as a config token, and one
  // starting with `-` and a letter (base64url has `-`) stops it ("variable reference for
  // 'NATS_PASSWORD_WORKER_RELEASE' … could not be parsed: … Expected a digit but got 'D'").
  const passwords = Object.fromEntries(natsUsers().map((u) => [u, `p${randomBytes(18).toString('base64url')}`]));
  await kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: USERS_SECRET, namespace: env.namespace }, stringData: passwords }));
  const pool = (replicas: number, max = replicas, slots = 3) => ({ minReplicas: replicas, maxReplicas: Math.max(1, max), slots, cacheSize: '1Gi', storageClass: STORAGE_CLASS, resources: small, terminationGracePeriodSeconds: opts.grace ?? 20 });
  await synthesizeAndApply(env, tmp, {
    template: ['forge-phase', 'forge-pipeline', ...(opts.release?.templates ?? [])],
    charts: ['nats', 'worker-pools', ...(opts.release?.charts ?? [])],
    adjust: (config) => {
      config.images = { ...(config.images as object), nats: { repository: image.slice(0, at), tag: image.slice(at + 1) } };
      config.pipeline = { ...(config.pipeline as object), phaseGroupSlots: 6 };
      // No records database here (npm test proves the records): the workers run without one.
      delete config.promotion;
      config.pools = {
        // No DNS for pods on the local cluster: a fixed Service address instead of its name.
        nats: { deploy: true, usersSecret: USERS_SECRET, clusterIP: process.env.FORGE_E2E_NATS_IP || '10.96.42.42', storage: '1Gi', storageClass: STORAGE_CLASS, resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } } },
        // KEDA is installed only for the test that scales a pool (keda.e2e.ts).
        keda: opts.keda ? { enabled: true, namespace: 'keda', ...opts.keda } : { enabled: false },
        discovery: pool(1),
        ci: pool(ciReplicas, ciMax, opts.ciSlots),
        artifact: pool(releasing),
        release: pool(releasing),
      };
      delete config.release;
      opts.release?.adjust(config);
    },
  });
  for (const set of ['forge-nats', 'forge-worker-discovery', 'forge-worker-ci', ...(releasing ? ['forge-worker-artifact', 'forge-worker-release'] : [])]) {
    await kubectl(env, ['-n', env.namespace, 'rollout', 'status', `statefulset/${set}`, '--timeout=240s']).catch(async (e: Error) => {
      // What the pods said, including a crashed container's last words.
      const pod = `${set}-0`;
      const said = await Promise.all([['logs', pod, '--tail=40'], ['logs', pod, '--previous', '--tail=40'], ['describe', 'pod', pod]].map((a) => kubectl(env, ['-n', env.namespace, ...a]).catch((x: Error) => x.message)));
      throw new Error(`${e.message}\n${said.join('\n')}`);
    });
  }
  return passwords;
}

/** Removes the pools, their claims and the volumes (and the data on them). */
export async function removePools(env: E2eEnv): Promise<void> {
  await kubectl(env, ['-n', env.namespace, 'delete', 'statefulset', 'forge-nats', 'forge-worker-discovery', 'forge-worker-ci', 'forge-worker-artifact', 'forge-worker-release', '--ignore-not-found', '--wait=true', '--timeout=120s']).catch(() => undefined);
  await kubectl(env, ['-n', env.namespace, 'delete', 'service,networkpolicy,poddisruptionbudget,configmap,job', '-l', 'app.kubernetes.io/part-of=forge-workflows', '--ignore-not-found']).catch(() => undefined);
  await kubectl(env, ['-n', env.namespace, 'delete', 'secret', USERS_SECRET, '--ignore-not-found']).catch(() => undefined);
  await kubectl(env, ['-n', env.namespace, 'delete', 'pvc', '--all', '--ignore-not-found', '--wait=true', '--timeout=60s']).catch(() => undefined);
  await kubectl(env, ['delete', 'pv', '-l', `forge-e2e=${env.namespace}`, '--ignore-not-found', '--wait=true', '--timeout=60s']).catch(() => undefined);
  fs.rmSync(pvRoot(env), { recursive: true, force: true });
}

/** `kubectl logs` of every worker pod of a pool, concatenated. */
export async function workerLogs(env: E2eEnv, pool: string): Promise<string> {
  return kubectl(env, ['-n', env.namespace, 'logs', '-l', `forge.dev/pool=${pool}`, '--tail=-1', '--prefix']).catch((e: Error) => e.message);
}
