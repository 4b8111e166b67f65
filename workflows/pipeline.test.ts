import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTemplate } from '../cdk8s/constructs/workflow-template.ts';
import { loadPlatformConfig, parsePlatformConfig, type PlatformConfig } from '../cdk8s/platform-config.ts';
import { pipelineTemplate } from './pipeline.ts';

// forge-pipeline's exit handler: the summary always, the commit status beside it only with a
// github section in the platform config (forge status itself: steps/status/status.test.ts).
const root = fileURLToPath(new URL('..', import.meta.url));
let config: PlatformConfig;
beforeAll(async () => {
  config = await loadPlatformConfig(join(root, 'cdk8s/platform.example.yaml'));
});

const exitTasks = (c: PlatformConfig) => pipelineTemplate(c).spec.templates!.find((t) => t.name === 'exit-summary')!.dag!.tasks!;

describe('forge-pipeline exit handler', () => {
  it('sets the commit status beside the summary: state and duration from the run, the token from the Secret, the Argo UI link', () => {
    const t = pipelineTemplate(config);
    checkTemplate(t);
    expect(t.spec.onExit).toBe('exit-summary');
    const tasks = exitTasks(config);
    expect(tasks.map((x) => x.name)).toEqual(['summary', 'status']);
    // Neither depends on the other; a status GitHub refuses never fails the exit handler.
    expect(tasks[1]).toEqual({
      name: 'status',
      template: 'status',
      continueOn: { failed: true, error: true },
      arguments: { parameters: [{ name: 'state', value: '{{workflow.status}}' }, { name: 'duration', value: '{{workflow.duration}}' }] },
    });
    const step = t.spec.templates!.find((x) => x.name === 'status')!;
    expect(step.container!.command).toEqual(['forge', 'status']);
    const env = Object.fromEntries(step.container!.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      FORGE_STATE: '{{inputs.parameters.state}}',
      FORGE_DURATION: '{{inputs.parameters.duration}}',
      FORGE_REPO_URL: '{{workflow.parameters.repo-url}}',
      FORGE_COMMIT: '{{workflow.parameters.commit}}',
      FORGE_TARGET_URL: `https://argo.example.com/workflows/${config.namespace}/{{workflow.name}}`,
      FORGE_API_URL: 'https://api.github.com',
      GITHUB_TOKEN: { secretKeyRef: { name: 'forge-github-status', key: 'token', optional: true } },
    });
    // The token reaches this pod only.
    const withToken = t.spec.templates!.filter((x) => JSON.stringify(x).includes('forge-github-status')).map((x) => x.name);
    expect(withToken).toEqual(['status']);
  });

  it('has no status step without a github section', () => {
    const { github: _, ...without } = config;
    const t = pipelineTemplate(without as PlatformConfig);
    expect(exitTasks(without as PlatformConfig).map((x) => x.name)).toEqual(['summary']);
    expect(t.spec.templates!.map((x) => x.name)).not.toContain('status');
    expect(JSON.stringify(t)).not.toContain('GITHUB_TOKEN');
  });

  it('the github section: defaults, a trailing slash dropped, a plain-http UI refused by field', () => {
    const base = { namespace: 'ci', images: { steps: { repository: 'r.example/steps', tag: '1' } }, registries: { incoming: 'in.example', trusted: 'tr.example', tracking: 'tr.example/t', release: 'tr.example/r' } };
    const c = parsePlatformConfig({ ...base, github: { tokenSecret: { name: 'gh' }, uiBaseUrl: 'https://argo.example.com/ui/' } });
    expect(c.github).toEqual({ apiUrl: 'https://api.github.com', tokenSecret: { name: 'gh', key: 'token' }, uiBaseUrl: 'https://argo.example.com/ui' });
    expect(() => parsePlatformConfig({ ...base, github: { tokenSecret: { name: 'gh' }, uiBaseUrl: 'http://argo.example.com' } }, 'platform.yaml')).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ field: 'github.uiBaseUrl', message: expect.stringContaining('must be an https:// URL') })] }),
    );
  });
});
