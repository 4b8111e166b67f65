/**
 * KEDA itself on the real cluster (built from its Go module, images/cluster/keda.mjs): the
 * library's ScaledObjects pass KEDA's CRD schema on the API server, and the ci pool — idle at 1
 * worker of 2 slots, at most 4 — scales up under a queue of 20 jobs (queued from this host with
 * the dispatcher's own code, as the `dispatch-ci` NATS user) and back down after the cooldown.
 * The HPA reads the consumer's lag through the aggregation layer from KEDA's metrics adapter,
 * which asks the operator, which reads NATS's monitoring port.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { dispatch } from '../../steps/dispatch/dispatch.ts';
import { connectNats } from '../../steps/lib/pool/connect.ts';
import { dispatcherUser } from '../../steps/lib/pool/permissions.ts';
import { poolSpec } from '../../steps/lib/pool/pools.ts';
import { poolRepo } from '../helpers/pool.ts';
import { e2eEnv, gitDaemon, kubectl, run, type E2eEnv } from './e2e-env.ts';
import { deployKeda, kedaLogs, removeKeda } from './keda.ts';
import { deployPools, removePools, workerLogs } from './pools.ts';

const JOBS = 20;
const JOB_MS = 20_000;
const IDLE = 1;
const MAX = 4;
const KEDA = { pollingInterval: 5, cooldownPeriod: 20 };
const NATS_URL = `nats://${process.env.FORGE_E2E_NATS_IP || '10.96.42.42'}:4222`;

let env: E2eEnv;
let tmp: string;
let daemon: Awaited<ReturnType<typeof gitDaemon>>;
let repo: { url: string; commit: string };
let passwords: Record<string, string>;

async function git(args: string[]): Promise<string> {
  const r = await run('git', args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  env = e2eEnv();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-e2e-keda-'));
  const projects = Object.fromEntries(Array.from({ length: JOBS }, (_, i) => [`p${i}`, { lint: { wait: { args: ['print=1', `sleep=${JOB_MS}`] } } }]));
  const source = await poolRepo(projects);
  fs.mkdirSync(path.join(tmp, 'served'));
  await git(['clone', '-q', '--bare', source.dir, path.join(tmp, 'served', 'scale.git')]);
  const commit = await git(['-C', source.dir, 'rev-parse', 'HEAD']);
  await source.cleanup();
  daemon = await gitDaemon(path.join(tmp, 'served'), env.gitListen);
  repo = { url: daemon.url('scale.git'), commit };
  const t0 = Date.now();
  await deployKeda(env);
  const t1 = Date.now();
  passwords = await deployPools(env, tmp, { ciReplicas: IDLE, ciMaxReplicas: MAX, ciSlots: 2, keda: KEDA });
  console.log(`KEDA installed and its APIService available in ${((t1 - t0) / 1000).toFixed(1)} s; NATS and the pools in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await daemon?.stop();
  if (env) {
    await removeKeda(env);
    await removePools(env);
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface ScaledObject {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string; message?: string }[]; hpaName?: string };
}

async function scaledObject(name: string): Promise<ScaledObject> {
  return JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'scaledobject', name, '-o', 'json'])) as ScaledObject;
}

/** The ci StatefulSet's replicas and ready pods, and what its HPA wants. */
async function sample(hpa: string): Promise<{ replicas: number; ready: number; desired: number; lag: string }> {
  const sts = JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'statefulset', 'forge-worker-ci', '-o', 'json'])) as { spec: { replicas: number }; status: { readyReplicas?: number } };
  const h = JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'hpa', hpa, '-o', 'json'])) as {
    status: { desiredReplicas?: number; currentMetrics?: { external?: { current?: { averageValue?: string; value?: string } } }[] };
  };
  const m = h.status.currentMetrics?.[0]?.external?.current;
  return { replicas: sts.spec.replicas, ready: sts.status.readyReplicas ?? 0, desired: h.status.desiredReplicas ?? 0, lag: m?.averageValue ?? m?.value ?? '?' };
}

describe('KEDA scales a hot pool on the real cluster', () => {
  it("accepts the library's ScaledObjects by KEDA's CRD schema and refuses a broken one", async () => {
    const manifests = path.join(tmp, 'manifests', 'worker-pools.yaml');
    const dry = await kubectl(env, ['apply', '--dry-run=server', '--validate=strict', '-f', manifests]);
    expect(dry).toMatch(/scaledobject\.keda\.sh\/forge-worker-ci (created|configured|unchanged|serverside-applied) \(server dry run\)/);
    const ci = parseAllDocuments(fs.readFileSync(manifests, 'utf8'))
      .map((d) => d.toJS() as { kind?: string; metadata?: { name: string }; spec: Record<string, unknown> })
      .find((d) => d.kind === 'ScaledObject' && d.metadata?.name === 'forge-worker-ci')!;
    const broken = { ...ci, spec: { ...ci.spec, maxReplicaCount: 'four', pollingIntervall: 5 } };
    const r = await run(env.kubectlBin, ['--kubeconfig', env.kubeconfig, 'apply', '--dry-run=server', '--validate=strict', '-f', '-'], { input: JSON.stringify(broken) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.maxReplicaCount|pollingIntervall/);
    // KEDA took every pool's object: its trigger read their consumers on NATS's monitoring port —
    // artifact and release, at minReplicas 0, run no worker here: their consumers come from the
    // chart's setup Job (forge worker --setup-only).
    for (const pool of ['discovery', 'ci', 'artifact', 'release']) {
      const deadline = Date.now() + 90_000;
      let so = await scaledObject(`forge-worker-${pool}`);
      while (so.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True' && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 2_000));
        so = await scaledObject(`forge-worker-${pool}`);
      }
      expect(so.status?.conditions?.find((c) => c.type === 'Ready'), `${JSON.stringify(so.status)}\n${await kedaLogs(env)}`).toMatchObject({ status: 'True' });
    }
  });

  it(`scales the ci pool from ${IDLE} up under ${JOBS} queued jobs, runs them all, and back to ${IDLE} after the cooldown`, async () => {
    const hpa = (await scaledObject('forge-worker-ci')).status?.hpaName ?? 'keda-hpa-forge-worker-ci';
    const started = Date.now();
    const at = () => `+${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s`;
    const timeline: string[] = [];
    let last = '';
    let peak = 0;
    let current = { replicas: IDLE, ready: IDLE, desired: IDLE, lag: '0' };
    const observe = async () => {
      current = await sample(hpa).catch(() => current);
      peak = Math.max(peak, current.replicas);
      const line = `replicas ${current.replicas}, ready ${current.ready}, HPA desired ${current.desired}, lag per replica ${current.lag}`;
      if (line !== last) timeline.push(`${at()} ${line}`);
      last = line;
    };
    await observe();
    expect(current.replicas, timeline.join('\n')).toBe(IDLE);
    const sampler = setInterval(() => void observe(), 2_000);
    const secret = path.join(tmp, 'dispatch-ci.password');
    fs.writeFileSync(secret, passwords[dispatcherUser('ci')]!, { mode: 0o600 });
    const nc = await connectNats({ servers: NATS_URL, name: 'forge-e2e-keda', user: dispatcherUser('ci'), passwordFile: secret });
    try {
      const runId = `keda-${Date.now().toString(36)}`;
      const jobs = Array.from({ length: JOBS }, (_, i) =>
        dispatch({
          nc,
          pool: poolSpec('ci'),
          runId,
          taskId: `lint-p${i}`,
          repository: repo.url,
          commit: repo.commit,
          task: { kind: 'phase', phase: 'lint', project: `p${i}`, path: `projects/p${i}` },
          timeoutMs: 600_000,
          signal: new AbortController().signal,
          onLine: () => undefined,
          onNote: () => undefined,
          onProgress: () => undefined,
        }),
      );
      timeline.push(`${at()} ${JOBS} jobs queued (${JOB_MS / 1000} s each; ${IDLE} worker of 2 slots idle, at most ${MAX})`);
      const outcomes = await Promise.all(jobs);
      timeline.push(`${at()} all ${JOBS} jobs finished`);
      const failed = outcomes.filter((o) => o.result.status !== 'succeeded');
      expect(failed.map((o) => `${o.job.taskId}: ${o.result.message}`)).toEqual([]);
      const workers = new Set(outcomes.map((o) => o.result.worker));
      const again = outcomes.filter((o) => o.result.attempt > 1).length;
      timeline.push(`${at()} jobs ran on ${workers.size} workers: ${[...workers].sort().join(', ')}; ${again} of them handed back by a stopping worker and run again`);
      expect(peak, `${timeline.join('\n')}\n${await kedaLogs(env)}`).toBeGreaterThan(IDLE);
      expect(workers.size, timeline.join('\n')).toBeGreaterThan(IDLE);
      // Back down: lag 0, then the cooldown (the HPA's scale-down window), then the HPA's next sync.
      const deadline = Date.now() + (KEDA.cooldownPeriod + 120) * 1000;
      while (Date.now() < deadline && !(current.replicas === IDLE && current.ready === IDLE)) await new Promise((res) => setTimeout(res, 2_000));
      timeline.push(`${at()} ${current.replicas === IDLE ? 'back' : 'NOT back'} to ${IDLE}`);
      expect(current.replicas, `${timeline.join('\n')}\n${await workerLogs(env, 'ci')}`).toBe(IDLE);
    } finally {
      clearInterval(sampler);
      await nc.drain().catch(() => undefined);
      console.log(`ci pool replica timeline (KEDA pollingInterval ${KEDA.pollingInterval} s, cooldownPeriod ${KEDA.cooldownPeriod} s, lagThreshold 2):\n  ${timeline.join('\n  ')}`);
      fs.writeFileSync(path.join(os.tmpdir(), 'forge-e2e-keda-timeline.txt'), `${timeline.join('\n')}\n`);
    }
  });
});
