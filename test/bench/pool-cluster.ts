/**
 * `npm run bench -- pool-cluster` (needs the running test cluster: `npm run cluster:up`): one
 * phase group of 10 tasks through the ci pool vs the same 10 tasks as one pod each that clones the
 * repository, on a generated repository of 20,000 commits and 5,000 files, and the workers'
 * memory idle and per job.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argo, e2eEnv, gitDaemon, kubectl, submittedName, type E2eEnv } from '../cluster/e2e-env.ts';
import { deployPools, removePools } from '../cluster/pools.ts';
import { generatedHistory } from './git-history.ts';
import { podTimeline } from './pod-timeline.ts';

const TASKS = 10;

function forgeFiles(): Record<string, string> {
  const files: Record<string, string> = {
    '.forge/repo.cue': 'package repo\nforgeVersion: "v1.0.0"\ntagging: strategy: "monorepo"\nphases: lint: {group: 1, description: "Lint", timeout: "10m", required: false}\n',
  };
  for (let i = 0; i < TASKS; i++) files[`projects/p${i}/.forge/project.cue`] = `package project\nname: "p${i}"\nci: phases: lint: check: {action: "script", target: "node", args: ["-e", "0"]}\n`;
  return files;
}

function cloneTemplate(env: E2eEnv): string {
  const tmp = { name: 'tmp', emptyDir: {} };
  return JSON.stringify({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: { name: 'forge-bench-clone', namespace: env.namespace, annotations: { 'workflows.argoproj.io/title': 'bench: a pod per task that clones', 'workflows.argoproj.io/description': 'The baseline of npm run bench -- pool-cluster.' } },
    spec: {
      entrypoint: 'group',
      serviceAccountName: 'forge-workflow',
      arguments: { parameters: [{ name: 'repo-url' }, { name: 'commit' }, { name: 'tasks' }] },
      templates: [
        { name: 'group', dag: { tasks: [{ name: 'task', template: 'clone-and-run', withParam: '{{workflow.parameters.tasks}}', arguments: { parameters: [{ name: 'project', value: '{{item}}' }] } }] } },
        {
          name: 'clone-and-run',
          inputs: { parameters: [{ name: 'project' }] },
          volumes: [tmp],
          container: {
            image: env.stepsImage,
            imagePullPolicy: env.pullPolicy,
            command: ['sh', '-c', 'git clone --quiet "$REPO" /tmp/w && git -C /tmp/w checkout --quiet --detach "$COMMIT" && cd "/tmp/w/projects/$PROJECT" && node -e 0'],
            env: [{ name: 'REPO', value: '{{workflow.parameters.repo-url}}' }, { name: 'COMMIT', value: '{{workflow.parameters.commit}}' }, { name: 'PROJECT', value: '{{inputs.parameters.project}}' }, { name: 'HOME', value: '/tmp' }],
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            securityContext: { runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          },
        },
      ],
    },
  });
}

/** Seconds from the first task's start to the last one's end, of the node named `name`. */
async function groupSeconds(env: E2eEnv, workflow: string, name: string): Promise<number> {
  const wf = JSON.parse(await kubectl(env, ['-n', env.namespace, 'get', 'workflow', workflow, '-o', 'json'])) as { status: { phase: string; nodes: Record<string, { displayName: string; startedAt: string; finishedAt: string }> } };
  if (wf.status.phase !== 'Succeeded') throw new Error(`${workflow} ended ${wf.status.phase}`);
  const node = Object.values(wf.status.nodes).find((n) => n.displayName === name)!;
  return (Date.parse(node.finishedAt) - Date.parse(node.startedAt)) / 1000;
}

async function workerRss(env: E2eEnv, pod: string): Promise<number> {
  const script = "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => console.log(/^forge_worker_process_resident_memory_bytes (\\S+)/m.exec(t)[1]))";
  return Number((await kubectl(env, ['-n', env.namespace, 'exec', pod, '--', 'node', '-e', script])).trim());
}

export async function benchPoolCluster(log: (line: string) => void): Promise<string> {
  const env = e2eEnv();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-bench-cluster-'));
  const served = path.join(tmp, 'served');
  fs.mkdirSync(served);
  const { commits } = await generatedHistory(served, { commits: 20_000, files: 5_000, extra: forgeFiles() });
  fs.renameSync(path.join(served, 'history.git'), path.join(served, 'bench.git'));
  const daemon = await gitDaemon(served, env.gitListen);
  const repo = daemon.url('bench.git');
  const commit = commits.at(-1)!;
  try {
    // As parallel as the baseline: 2 workers × 5 slots run the 10 tasks at once.
    await deployPools(env, tmp, { ciReplicas: 2, ciSlots: 5 });
    await kubectl(env, ['-n', env.namespace, 'apply', '-f', '-'], cloneTemplate(env));
    const idle = await Promise.all(['forge-worker-ci-0', 'forge-worker-ci-1'].map((p) => workerRss(env, p)));
    log(`ci workers idle: ${idle.map((b) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(', ')} resident`);
    const pool: number[] = [];
    let peak = [...idle];
    for (let run = 0; run < 2; run++) {
      const submitted = argo(env, ['submit', '--from', 'workflowtemplate/forge-pipeline', '--wait', '-o', 'name', '-p', `repo-url=${repo}`, '-p', `commit=${commit}`]);
      const sampler = setInterval(() => void Promise.all(['forge-worker-ci-0', 'forge-worker-ci-1'].map((p) => workerRss(env, p).catch(() => 0))).then((r) => (peak = peak.map((v, i) => Math.max(v, r[i]!)))), 1_000);
      const name = submittedName(await submitted);
      clearInterval(sampler);
      pool.push(await groupSeconds(env, name, 'group-1'));
      log(`pool run ${run + 1} (${run === 0 ? 'cold cache' : 'warm'}): group-1 of ${TASKS} tasks in ${pool[run]!.toFixed(1)} s`);
      log(`  dispatcher ${await podTimeline(env, name, 'group-1')}`);
    }
    const perJob = peak.map((p, i) => (p - idle[i]!) / (TASKS / 2));
    log(`ci workers peak: ${peak.map((b) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(', ')}; about ${(Math.max(...perJob) / 2 ** 20).toFixed(0)} MiB per concurrent job (peak − idle over the jobs each took)`);
    const clone: number[] = [];
    for (let run = 0; run < 2; run++) {
      const tasks = JSON.stringify(Array.from({ length: TASKS }, (_, i) => `p${i}`));
      const name = submittedName(await argo(env, ['submit', '--from', 'workflowtemplate/forge-bench-clone', '--wait', '-o', 'name', '-p', `repo-url=${repo}`, '-p', `commit=${commit}`, '-p', `tasks=${tasks}`]));
      clone.push(await groupSeconds(env, name, 'task'));
      log(`pod per task run ${run + 1}: ${TASKS} clones in ${clone[run]!.toFixed(1)} s`);
      log(`  clone ${await podTimeline(env, name, 'task')}`);
    }
    const warm = pool[1]!;
    const baseline = Math.min(...clone);
    return `pool-cluster: ${TASKS} tasks of one group through the ci pool ${warm.toFixed(1)} s (cold cache ${pool[0]!.toFixed(1)} s) vs a pod per task that clones ${baseline.toFixed(1)} s (${(baseline / warm).toFixed(1)}×); worker idle ${(Math.max(...idle) / 2 ** 20).toFixed(0)} MiB, ~${(Math.max(...perJob) / 2 ** 20).toFixed(0)} MiB per job`;
  } finally {
    await kubectl(env, ['-n', env.namespace, 'delete', 'workflowtemplate', 'forge-bench-clone', '--ignore-not-found']).catch(() => undefined);
    await removePools(env);
    await daemon.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
