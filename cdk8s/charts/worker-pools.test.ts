import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePlatformConfig } from '../platform-config.ts';
import { NATS_CLIENT_LABEL } from '../platform-config-pools.ts';
import { POOLS } from '../../steps/lib/pool/pools.ts';
import { phaseTemplate } from '../../workflows/phase.ts';
import { failure } from '../../test/helpers/forge-error.ts';
import { NatsChart } from './nats.ts';
import { WorkerPoolsChart } from './worker-pools.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, unknown>;
type Obj = { kind: string; metadata: { name: string }; spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
const objects = (chart: { toJson(): unknown[] }) => chart.toJson() as Obj[];
const find = (list: Obj[], kind: string, name: string) => list.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('worker pools chart', () => {
  const config = parsePlatformConfig(example);
  const pools = objects(new WorkerPoolsChart(Testing.app(), 'pools', config));

  it('scales each pool with KEDA on exactly the stream and consumer its workers pull from', () => {
    for (const pool of Object.values(POOLS)) {
      const so = find(pools, 'ScaledObject', `forge-worker-${pool.name}`);
      expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: `forge-worker-${pool.name}` });
      expect(so.spec.triggers[0]).toEqual({
        type: 'nats-jetstream',
        metadata: { natsServerMonitoringEndpoint: 'forge-nats.forge.svc:8222', account: '$G', stream: pool.stream, consumer: pool.consumer, lagThreshold: pool.name === 'ci' ? '2' : '2', activationLagThreshold: '0' },
      });
      const env = find(pools, 'StatefulSet', `forge-worker-${pool.name}`).spec.template.spec.containers[0].env as { name: string; value?: string }[];
      expect(env).toContainEqual({ name: 'FORGE_POOL', value: pool.name });
    }
    expect(find(pools, 'ScaledObject', 'forge-worker-ci').spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 20 });
    // cooldownPeriod shrinks a pool whose minimum is above 0 too: the HPA's scale-down window.
    expect(find(pools, 'ScaledObject', 'forge-worker-ci').spec).toMatchObject({ cooldownPeriod: 300, advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } } });
    const long = parsePlatformConfig({ ...example, pools: { keda: { cooldownPeriod: 7200 } } });
    expect(find(objects(new WorkerPoolsChart(Testing.app(), 'l', long)), 'ScaledObject', 'forge-worker-ci').spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(3600);
  });

  it('runs workers non-root, read-only, without an API token, with a cache volume per replica and a drain period', () => {
    const ci = find(pools, 'StatefulSet', 'forge-worker-ci').spec;
    const pod = ci.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('forge-worker-ci');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.terminationGracePeriodSeconds).toBe(1800);
    expect(pod.containers[0].env).toContainEqual({ name: 'FORGE_GRACE_SECONDS', value: '1790' });
    expect(pod.containers[0].env).toContainEqual({ name: 'FORGE_CACHE_MAX_GIB', value: '160' }); // 80 % of 200Gi
    expect(ci.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('200Gi');
    expect(find(pools, 'PodDisruptionBudget', 'forge-worker-ci').spec.maxUnavailable).toBe(1);
  });

  it('gives workers the records database from its Secret (the promotion one unless pools.database says otherwise)', () => {
    const env = find(pools, 'StatefulSet', 'forge-worker-ci').spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'FORGE_DATABASE_URL', valueFrom: { secretKeyRef: { name: 'forge-records-db', key: 'url' } } });
    const own = parsePlatformConfig({ ...example, pools: { database: { secret: { name: 'executions-db' } } } });
    const ownEnv = find(objects(new WorkerPoolsChart(Testing.app(), 'p', own)), 'StatefulSet', 'forge-worker-ci').spec.template.spec.containers[0].env;
    expect(ownEnv).toContainEqual({ name: 'FORGE_DATABASE_URL', valueFrom: { secretKeyRef: { name: 'executions-db', key: 'url' } } });
  });

  it('lets workers out to NATS, DNS and the git ports only; the NATS policy lets in the pods the templates label', () => {
    const egress = find(pools, 'NetworkPolicy', 'forge-worker-ci').spec.egress;
    expect(egress[0]).toEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'forge-nats' } } }], ports: [{ port: 4222, protocol: 'TCP' }] });
    expect(egress[2].ports.map((p: { port: number }) => p.port)).toEqual([22, 80, 443, 9418]);
    const nats = objects(new NatsChart(Testing.app(), 'nats', config));
    const clients = find(nats, 'NetworkPolicy', 'forge-nats').spec.ingress[0].from[0].podSelector.matchLabels;
    expect(clients).toEqual({ [NATS_CLIENT_LABEL]: 'true' });
    expect(find(pools, 'StatefulSet', 'forge-worker-ci').spec.template.metadata.labels[NATS_CLIENT_LABEL]).toBe('true');
    expect(phaseTemplate(config).spec.templates![0]!.metadata!.labels![NATS_CLIENT_LABEL]).toBe('true');
  });

  it('with a users Secret: NATS admits only the pool users, and each pod gets only its own password', () => {
    const auth = parsePlatformConfig({ ...example, pools: { ...(example.pools as object), nats: { usersSecret: 'forge-nats-users' } } });
    const nats = objects(new NatsChart(Testing.app(), 'nats', auth));
    const conf = (find(nats, 'ConfigMap', 'forge-nats-config') as unknown as { data: Record<string, string> }).data['nats.conf']!;
    expect(conf).toContain('{ user: "dispatch-ci", password: $NATS_PASSWORD_DISPATCH_CI, permissions: {"publish":{"allow":["pipeline.tasks.>"');
    expect(conf).toContain('{ user: "worker-release", password: $NATS_PASSWORD_WORKER_RELEASE');
    const serverEnv = find(nats, 'StatefulSet', 'forge-nats').spec.template.spec.containers[0].env;
    expect(serverEnv).toContainEqual({ name: 'NATS_PASSWORD_WORKER_CI', valueFrom: { secretKeyRef: { name: 'forge-nats-users', key: 'worker-ci' } } });
    const worker = find(objects(new WorkerPoolsChart(Testing.app(), 'p', auth)), 'StatefulSet', 'forge-worker-ci').spec.template.spec;
    expect(worker.containers[0].env).toContainEqual({ name: 'FORGE_NATS_USER', value: 'worker-ci' });
    expect(worker.volumes).toContainEqual({ name: 'nats-password', secret: { secretName: 'forge-nats-users', defaultMode: 0o440, items: [{ key: 'worker-ci', path: 'password' }] } });
    const dispatcher = phaseTemplate(auth).spec.templates![0]!;
    expect(dispatcher.container!.env).toContainEqual({ name: 'FORGE_NATS_USER', value: 'dispatch-ci' });
    expect(dispatcher.volumes).toContainEqual({ name: 'nats-password', secret: { secretName: 'forge-nats-users', defaultMode: 0o440, items: [{ key: 'dispatch-ci', path: 'password' }] } });
  });

  it('a pool that may scale to zero gets a Job that sets its stream up (KEDA needs the consumer before any worker)', () => {
    expect(pools.filter((o) => o.kind === 'Job')).toEqual([]); // every default pool keeps a worker
    const zero = parsePlatformConfig({ ...example, pools: { ...(example.pools as object), nats: { usersSecret: 'forge-nats-users' }, release: { minReplicas: 0 } } });
    const jobs = objects(new WorkerPoolsChart(Testing.app(), 'z', zero)).filter((o) => o.kind === 'Job');
    expect(jobs.map((j) => j.metadata.name)).toEqual(['forge-worker-release-setup']);
    const pod = jobs[0]!.spec.template;
    expect(pod.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'pool-setup', 'forge.dev/pool': 'release', [NATS_CLIENT_LABEL]: 'true' });
    const c = pod.spec.containers[0];
    expect(c.command).toEqual(['forge', 'worker', '--setup-only']);
    expect(c.env).toEqual(expect.arrayContaining([{ name: 'FORGE_POOL', value: 'release' }, { name: 'FORGE_NATS_USER', value: 'worker-release' }, { name: 'FORGE_NATS_PASSWORD_FILE', value: '/var/run/forge/nats/password' }]));
    expect(pod.spec.volumes).toContainEqual({ name: 'nats-password', secret: { secretName: 'forge-nats-users', defaultMode: 0o440, items: [{ key: 'worker-release', path: 'password' }] } });
    expect(pod.spec).toMatchObject({ restartPolicy: 'OnFailure', automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, fsGroup: 65532 } });
  });

  it('uses an existing NATS when told to: no server, the URL everywhere, KEDA reads its host', () => {
    const external = parsePlatformConfig({ ...example, pools: { nats: { deploy: false, url: 'nats://nats.infra.svc:4222' }, keda: { enabled: true } } });
    const list = objects(new WorkerPoolsChart(Testing.app(), 'pools', external));
    expect(find(list, 'ScaledObject', 'forge-worker-ci').spec.triggers[0].metadata.natsServerMonitoringEndpoint).toBe('nats.infra.svc:8222');
    expect(find(list, 'StatefulSet', 'forge-worker-ci').spec.template.spec.containers[0].env).toContainEqual({ name: 'FORGE_NATS_URL', value: 'nats://nats.infra.svc:4222' });
  });

  it('refuses settings that cannot work, naming the field', async () => {
    const refusal = (pools: unknown) => failure((async () => parsePlatformConfig({ ...example, pools }))()).then((e) => e.format());
    expect(await refusal({ ci: { minReplicas: 5, maxReplicas: 2 } })).toContain('pools.ci.minReplicas: minReplicas must not exceed maxReplicas');
    expect(await refusal({ ci: { maxReplicas: 51 } })).toContain('pools.ci.maxReplicas: Too big');
    expect(await refusal({ nats: { replicas: 3 } })).toContain('pools.nats.replicas: the deployed NATS is one server');
    expect(await refusal({ nats: { deploy: false } })).toContain('pools.nats.url: set url when NATS is not deployed');
    expect(await refusal({ nats: { deploy: false, url: 'nats://user:pw@nats:4222' } })).toContain('without credentials');
  });
});
