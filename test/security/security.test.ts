import { describe, it, expect } from 'vitest';
import { checkSecurity, countContainers, formatFinding, parseImage, runsShellScript, SECURITY_RULES, type Finding, type SecurityRule } from './security.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function goodContainer(name = 'main'): Obj {
  return {
    name,
    image: 'registry.example.com/forge/steps:0.1.0',
    command: ['forge', 'discover'],
    env: [{ name: 'FORGE_COMMIT', value: '{{inputs.parameters.commit}}' }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** A compliant WorkflowTemplate; `edit` breaks one thing on a deep copy. */
function template(edit: (wt: Obj) => void = () => {}): Obj {
  const wt: Obj = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: { name: 'forge-test' },
    spec: {
      entrypoint: 'main',
      serviceAccountName: 'forge-workflow',
      templates: [
        { name: 'main', dag: { tasks: [{ name: 'step', template: 'step' }] } },
        { name: 'step', container: goodContainer() },
      ],
    },
  };
  edit(wt);
  return wt;
}

/** The `step` template of a WorkflowTemplate built by `template`. */
const step = (wt: Obj): Obj => wt.spec.templates[1];
const sc = (wt: Obj): Obj => step(wt).container.securityContext;

function rules(findings: Finding[]): SecurityRule[] {
  return [...new Set(findings.map((f) => f.rule))];
}

describe('checkSecurity: a compliant template', () => {
  it('has no findings', () => {
    expect(checkSecurity([template()])).toEqual([]);
  });

  it('accepts runAsNonRoot and seccompProfile from the template (pod) securityContext', () => {
    const wt = template((t) => {
      delete sc(t).runAsNonRoot;
      delete sc(t).runAsUser;
      delete sc(t).seccompProfile;
      step(t).securityContext = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } };
    });
    expect(checkSecurity([wt])).toEqual([]);
  });

  it('accepts runAsNonRoot and seccompProfile from the workflow-level securityContext', () => {
    const wt = template((t) => {
      delete sc(t).runAsNonRoot;
      delete sc(t).seccompProfile;
      t.spec.securityContext = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
    });
    expect(checkSecurity([wt])).toEqual([]);
  });

  it('checks Workflows, ClusterWorkflowTemplates and CronWorkflows the same way', () => {
    const wf = template((t) => (t.kind = 'Workflow'));
    const cwt = template((t) => (t.kind = 'ClusterWorkflowTemplate'));
    const cron = { apiVersion: 'argoproj.io/v1alpha1', kind: 'CronWorkflow', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', workflowSpec: template().spec } };
    expect(checkSecurity([wf, cwt, cron])).toEqual([]);
    const badCron = structuredClone(cron);
    badCron.spec.workflowSpec.templates[1].container.securityContext.privileged = true;
    expect(checkSecurity([badCron])).toEqual([
      expect.objectContaining({ object: 'CronWorkflow/nightly', template: 'step', container: 'main', rule: 'privileged', path: 'spec.workflowSpec.templates[1].container.securityContext.privileged' }),
    ]);
  });

  it('ignores objects that are not Argo workflows and values that are not objects', () => {
    const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } };
    const notArgo = { apiVersion: 'example.com/v1', kind: 'WorkflowTemplate', metadata: { name: 'x' }, spec: { templates: [{ name: 'a', container: { image: 'x' } }] } };
    expect(checkSecurity([sa, notArgo, null, 'text', 42])).toEqual([]);
  });

  it('passes parameters through env and args of a tool that is not a shell', () => {
    const wt = template((t) => (step(t).container.args = ['--commit', '{{inputs.parameters.commit}}']));
    expect(checkSecurity([wt])).toEqual([]);
  });

  it('accepts an image pinned by digest, with or without a tag', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const image of [`registry.example.com/forge/steps@${digest}`, `registry.example.com:5000/steps:latest@${digest}`]) {
      expect(checkSecurity([template((t) => (step(t).container.image = image))])).toEqual([]);
    }
  });

  it('counts every kind of container', () => {
    const wt = template((t) => {
      step(t).initContainers = [goodContainer('init')];
      step(t).sidecars = [goodContainer('side')];
      t.spec.templates.push({ name: 'set', containerSet: { containers: [goodContainer('a'), goodContainer('b')] } });
      t.spec.templates.push({ name: 'script', script: { ...goodContainer(), command: ['node'], source: 'console.log(process.env.X)' } });
    });
    expect(countContainers([wt])).toBe(6);
    expect(checkSecurity([wt])).toEqual([]);
  });
});

/** For each rule: a template that breaks only that rule, and the path the finding must name. */
const violations: Record<SecurityRule, { edit: (wt: Obj) => void; path: string }[]> = {
  'run-as-non-root': [
    { edit: (t) => delete sc(t).runAsNonRoot, path: 'spec.templates[1].container.securityContext.runAsNonRoot' },
    { edit: (t) => (sc(t).runAsNonRoot = false), path: 'spec.templates[1].container.securityContext.runAsNonRoot' },
    // The container's own value wins over the pod's.
    {
      edit: (t) => {
        sc(t).runAsNonRoot = false;
        step(t).securityContext = { runAsNonRoot: true };
      },
      path: 'spec.templates[1].container.securityContext.runAsNonRoot',
    },
    {
      edit: (t) => {
        delete sc(t).runAsNonRoot;
        step(t).securityContext = { runAsNonRoot: false };
      },
      path: 'spec.templates[1].securityContext.runAsNonRoot',
    },
  ],
  'run-as-user': [
    { edit: (t) => (sc(t).runAsUser = 0), path: 'spec.templates[1].container.securityContext.runAsUser' },
    {
      edit: (t) => {
        delete sc(t).runAsUser;
        t.spec.securityContext = { runAsUser: 0 };
      },
      path: 'spec.securityContext.runAsUser',
    },
  ],
  'read-only-root-filesystem': [
    { edit: (t) => delete sc(t).readOnlyRootFilesystem, path: 'spec.templates[1].container.securityContext.readOnlyRootFilesystem' },
    { edit: (t) => (sc(t).readOnlyRootFilesystem = false), path: 'spec.templates[1].container.securityContext.readOnlyRootFilesystem' },
  ],
  'allow-privilege-escalation': [
    { edit: (t) => delete sc(t).allowPrivilegeEscalation, path: 'spec.templates[1].container.securityContext.allowPrivilegeEscalation' },
    { edit: (t) => (sc(t).allowPrivilegeEscalation = true), path: 'spec.templates[1].container.securityContext.allowPrivilegeEscalation' },
  ],
  'capabilities-drop-all': [
    { edit: (t) => delete sc(t).capabilities, path: 'spec.templates[1].container.securityContext.capabilities.drop' },
    { edit: (t) => (sc(t).capabilities = { drop: ['NET_RAW'] }), path: 'spec.templates[1].container.securityContext.capabilities.drop' },
  ],
  privileged: [{ edit: (t) => (sc(t).privileged = true), path: 'spec.templates[1].container.securityContext.privileged' }],
  'seccomp-profile': [
    { edit: (t) => delete sc(t).seccompProfile, path: 'spec.templates[1].container.securityContext.seccompProfile' },
    { edit: (t) => (sc(t).seccompProfile = { type: 'Unconfined' }), path: 'spec.templates[1].container.securityContext.seccompProfile' },
  ],
  resources: [
    { edit: (t) => delete step(t).container.resources, path: 'spec.templates[1].container.resources' },
    { edit: (t) => delete step(t).container.resources.limits.memory, path: 'spec.templates[1].container.resources' },
    { edit: (t) => delete step(t).container.resources.requests, path: 'spec.templates[1].container.resources' },
  ],
  'service-account': [
    { edit: (t) => delete t.spec.serviceAccountName, path: 'spec.serviceAccountName' },
    { edit: (t) => (t.spec.serviceAccountName = 'default'), path: 'spec.serviceAccountName' },
    { edit: (t) => (step(t).serviceAccountName = 'default'), path: 'spec.templates[1].serviceAccountName' },
  ],
  'image-pinned': [
    { edit: (t) => (step(t).container.image = 'registry.example.com/forge/steps'), path: 'spec.templates[1].container.image' },
    { edit: (t) => (step(t).container.image = 'registry.example.com:5000/forge/steps'), path: 'spec.templates[1].container.image' },
    { edit: (t) => (step(t).container.image = 'registry.example.com/forge/steps:latest'), path: 'spec.templates[1].container.image' },
    { edit: (t) => (step(t).container.image = '{{inputs.parameters.image}}'), path: 'spec.templates[1].container.image' },
    { edit: (t) => delete step(t).container.image, path: 'spec.templates[1].container.image' },
  ],
  'no-shell-interpolation': [
    {
      edit: (t) => {
        step(t).script = { ...step(t).container, command: ['sh'], source: 'git clone "{{inputs.parameters.repo-url}}"' };
        delete step(t).container;
      },
      path: 'spec.templates[1].script.source',
    },
    {
      edit: (t) => {
        step(t).container.command = ['sh', '-c'];
        step(t).container.args = ['echo {{inputs.parameters.commit}}'];
      },
      path: 'spec.templates[1].container.args[0]',
    },
    { edit: (t) => (step(t).container.command = ['/bin/bash', '-euxc', 'forge discover --commit={{workflow.parameters.commit}}']), path: 'spec.templates[1].container.command[2]' },
    {
      edit: (t) => {
        delete step(t).container.command;
        step(t).container.args = ['/usr/bin/env', 'bash', '-c', 'echo {{=inputs.parameters.x}}'];
      },
      path: 'spec.templates[1].container.args[3]',
    },
  ],
};

describe('checkSecurity: every rule catches a bad template', () => {
  it('has cases for every rule', () => {
    expect(Object.keys(violations).sort()).toEqual(Object.keys(SECURITY_RULES).sort());
  });

  for (const [rule, cases] of Object.entries(violations) as [SecurityRule, (typeof violations)[SecurityRule]][]) {
    cases.forEach(({ edit, path }, i) => {
      it(`${rule} #${i + 1}`, () => {
        const findings = checkSecurity([template(edit)]);
        expect(rules(findings)).toEqual([rule]);
        expect(findings.map((f) => f.path)).toContain(path);
        const f = findings.find((x) => x.path === path)!;
        expect(f.object).toBe('WorkflowTemplate/forge-test');
        if (path !== 'spec.serviceAccountName') expect(f.template).toBe('step');
        expect(f.message.length).toBeGreaterThan(0);
        expect(formatFinding(f)).toContain(`[${rule}]`);
      });
    });
  }

  it('checks init containers, sidecars and containerSet containers too', () => {
    const wt = template((t) => {
      step(t).initContainers = [{ ...goodContainer('init'), securityContext: { ...goodContainer().securityContext, privileged: true } }];
      step(t).sidecars = [{ ...goodContainer('side'), image: 'busybox' }];
      t.spec.templates.push({ name: 'set', containerSet: { containers: [goodContainer('a'), { ...goodContainer('b'), resources: {} }] } });
    });
    const findings = checkSecurity([wt]);
    expect(findings.map((f) => [f.template, f.container, f.rule, f.path])).toEqual([
      ['step', 'init', 'privileged', 'spec.templates[1].initContainers[0].securityContext.privileged'],
      ['step', 'side', 'image-pinned', 'spec.templates[1].sidecars[0].image'],
      ['set', 'b', 'resources', 'spec.templates[2].containerSet.containers[1].resources'],
    ]);
  });

  it('does not require an account on a Workflow that runs a workflowTemplateRef', () => {
    const wf = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { generateName: 'run-' }, spec: { workflowTemplateRef: { name: 'forge-test' } } };
    expect(checkSecurity([wf])).toEqual([]);
    wf.spec = { ...wf.spec, serviceAccountName: 'default' } as typeof wf.spec;
    expect(checkSecurity([wf])).toEqual([expect.objectContaining({ object: 'Workflow/run-', rule: 'service-account' })]);
  });

  it('reports every broken rule of one container', () => {
    const wt = template((t) => (step(t).container = { name: 'main', image: 'alpine' }));
    expect(rules(checkSecurity([wt])).sort()).toEqual(
      ['allow-privilege-escalation', 'capabilities-drop-all', 'image-pinned', 'read-only-root-filesystem', 'resources', 'run-as-non-root', 'seccomp-profile'].sort(),
    );
  });
});

describe('helpers', () => {
  it('parseImage splits tag and digest, not a registry port', () => {
    expect(parseImage('r.example.com:5000/a/b')).toEqual({});
    expect(parseImage('r.example.com:5000/a/b:1.2')).toEqual({ tag: '1.2' });
    expect(parseImage('a/b@sha256:00')).toEqual({ digest: 'sha256:00' });
    expect(parseImage('a/b:1@sha256:00')).toEqual({ tag: '1', digest: 'sha256:00' });
  });

  it('runsShellScript recognises shells run with an inline script', () => {
    expect(runsShellScript(['sh', '-c', 'x'])).toBe(true);
    expect(runsShellScript(['/bin/bash', '-ec', 'x'])).toBe(true);
    expect(runsShellScript(['env', 'zsh', '-c', 'x'])).toBe(true);
    expect(runsShellScript(['sh', 'script.sh'])).toBe(false);
    expect(runsShellScript(['forge', 'discover', '-c', 'x'])).toBe(false);
    expect(runsShellScript(['bashful', '-c'])).toBe(false);
  });
});
