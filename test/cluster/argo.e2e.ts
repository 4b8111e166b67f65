/**
 * Argo Workflows on a real cluster: a WorkflowTemplate whose container is the locally built step
 * image runs to `Succeeded` through `argo submit --wait`, and a failing one ends `Failed` with a
 * non-zero exit of the CLI and the container's exit code recorded.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { argo, e2eEnv, ensureNamespace, getWorkflow, kubectl, submittedName, type E2eEnv } from './e2e-env.ts';

let env: E2eEnv;

function template(name: string, script: string, image: string, pullPolicy: string): string {
  return `
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: ${name}
spec:
  entrypoint: main
  serviceAccountName: e2e-workflow
  activeDeadlineSeconds: 300
  templates:
    - name: main
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: { type: RuntimeDefault }
      container:
        name: main
        image: ${image}
        imagePullPolicy: ${pullPolicy}
        command: [node, -e, ${JSON.stringify(script)}]
        resources:
          requests: { cpu: 50m, memory: 64Mi }
          limits: { cpu: "1", memory: 256Mi }
        securityContext:
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: { drop: [ALL] }
`;
}

beforeAll(async () => {
  env = e2eEnv();
  await ensureNamespace(env);
  await kubectl(
    env,
    ['-n', env.namespace, 'apply', '-f', '-'],
    template('e2e-hello', "console.log('hello from ' + process.version + ' as uid ' + process.getuid())", env.stepsImage, env.pullPolicy) +
      '---\n' +
      template('e2e-fail', "console.error('failing on purpose'); process.exit(3)", env.stepsImage, env.pullPolicy),
  );
});

describe('argo submit --wait on a real cluster', () => {
  it('a hello-world WorkflowTemplate on the local step image ends Succeeded', async () => {
    const r = await argo(env, ['submit', '--from', 'workflowtemplate/e2e-hello', '--wait', '-o', 'name']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const wf = await getWorkflow(env, submittedName(r));
    expect(wf.status.phase).toBe('Succeeded');
    const logs = await argo(env, ['logs', wf.metadata.name, '--no-color']);
    expect(logs.stdout).toMatch(/hello from v\d+\.\d+\.\d+ as uid 65532/);
  });

  it('a failing WorkflowTemplate ends Failed, and argo submit --wait exits non-zero', async () => {
    const r = await argo(env, ['submit', '--from', 'workflowtemplate/e2e-fail', '--wait', '-o', 'name']);
    expect(r.code).not.toBe(0);
    const wf = await getWorkflow(env, submittedName(r));
    expect(wf.status.phase).toBe('Failed');
    const pod = Object.values(wf.status.nodes ?? {}).find((n) => n.type === 'Pod');
    expect(pod?.phase).toBe('Failed');
    expect(pod?.outputs?.exitCode).toBe('3');
    expect(pod?.message ?? '').toMatch(/exit code 3/);
  });
});
