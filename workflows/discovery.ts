import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import { standardLabels } from '../cdk8s/constructs/labels.ts';
import { stepTemplate, workflowArguments, type StepInput, type StepOutput } from '../cdk8s/constructs/step-template.ts';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { groupOutput, outputFile } from '../steps/lib/contract.ts';
import { workflowMetadata } from './metadata.ts';

export const DISCOVERY_TEMPLATE = 'forge-discovery';
/** Name of the template inside forge-discovery that `templateRef`s point at. */
export const DISCOVER_STEP = 'discover';

export const discoveryInputs: StepInput[] = [
  { name: 'repo-url', description: 'Git URL of the repository to discover (https://… or ssh). Credentials come from the pod, never from this value.' },
  { name: 'commit', description: 'Full 40-character SHA of the commit to discover.' },
  { name: 'branch', description: 'Branch the commit was pushed to; evaluates `{branch: …}` release triggers. Empty for none.', default: '' },
  { name: 'tag', description: 'Tag being built (`v1.2.3` or `<project>/v1.2.3`); evaluates `{tag: true}` release triggers. Empty for none.', default: '' },
  { name: 'paths', description: 'Comma-separated globs of project directories to keep (`services/**`). Empty keeps every project.', default: '' },
];

/** Output parameters of the discover step; `group-<n>` are added per slot. */
export function discoveryOutputs(slots: number): StepOutput[] {
  return [
    { name: 'project-count', file: outputFile('discover', 'project-count'), default: '0', description: 'Number of projects discovered.' },
    { name: 'group-count', file: outputFile('discover', 'group-count'), default: '0', description: 'Number of phase groups the repository defines.' },
    { name: 'release-projects', file: outputFile('discover', 'release-projects'), default: '[]', description: 'JSON array of the projects whose release triggers fired.' },
    { name: 'releases', file: outputFile('discover', 'releases'), default: '[]', description: 'JSON array of the releases to make ({project, path}): what forge-pipeline\'s release stage fans out over.' },
    { name: 'summary', file: outputFile('discover', 'summary'), default: '{}', description: 'JSON summary: commit, projects, groups, tasks, releaseProjects.' },
    ...Array.from({ length: slots }, (_, i) => ({
      name: groupOutput(i + 1),
      file: groupOutput(i + 1),
      default: '[]',
      description: `JSON array of the tasks of phase-group slot ${i + 1} ({id, phase, project, path, group, timeout, steps}); [] when the slot is unused.`,
    })),
  ];
}

/**
 * The cue process's share of the step container: half its memory limit (Node, git and the
 * output files keep the other half; at least the 128 MiB cue needs to start: its runtime maps
 * about 100 MiB of data segment before it reads anything), and a quarter of the step's deadline per cue run, so that
 * the run and the search for the file that exceeded a limit (at most twice that again) end
 * before Argo's deadline does.
 */
export function cueLimitSettings(config: PlatformConfig): { 'cue-memory-mib': string; 'cue-timeout-seconds': string } {
  const limitMiB = quantityMiB(config.steps.resources.limits.memory);
  return {
    'cue-memory-mib': String(Math.max(128, Math.floor(limitMiB / 2))),
    'cue-timeout-seconds': String(Math.max(5, Math.min(60, Math.floor(config.pipeline.discoveryTimeoutSeconds / 4)))),
  };
}

const UNIT: Record<string, number> = { '': 1, m: 0.001, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes memory quantity (`512Mi`, `1G`, `1073741824`) in MiB. */
export function quantityMiB(quantity: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new Error(`not a Kubernetes memory quantity: ${quantity}`);
  return (Number(m[1]) * UNIT[m[2] ?? '']!) / 2 ** 20;
}

/**
 * forge-discovery: finds the projects of one commit, validates their CUE configuration and
 * plans the run (docs/templates/forge-discovery.md). Submittable alone; forge-pipeline calls its
 * `discover` template through templateRef.
 */
export function discoveryTemplate(config: PlatformConfig): IWorkflowTemplate {
  const slots = config.pipeline.phaseGroupSlots;
  const discover = stepTemplate(config, {
    name: DISCOVER_STEP,
    command: 'discover',
    inputs: discoveryInputs,
    settings: { slots: String(slots), output: 'json', ...cueLimitSettings(config) },
    outputs: discoveryOutputs(slots),
    artifacts: [{ name: 'discovery', file: outputFile('discover', 'discovery'), description: 'The full discovery output (docs/discovery-contract.md).' }],
    timeoutSeconds: config.pipeline.discoveryTimeoutSeconds,
    retries: 2,
  });
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'WorkflowTemplate',
    metadata: {
      name: DISCOVERY_TEMPLATE,
      namespace: config.namespace,
      labels: standardLabels('discovery'),
      annotations: {
        'workflows.argoproj.io/title': 'Forge discovery',
        'workflows.argoproj.io/description':
          'Finds the projects of one commit, validates their `.forge` CUE configuration and plans the run: ' +
          'phase groups, the tasks of each group slot and the projects whose release triggers fired.',
      },
    },
    spec: {
      entrypoint: DISCOVER_STEP,
      serviceAccountName: config.serviceAccounts.workflow,
      activeDeadlineSeconds: config.pipeline.discoveryTimeoutSeconds + 60,
      ...(config.artifactRepositoryRef ? { artifactRepositoryRef: { ...config.artifactRepositoryRef } } : {}),
      arguments: { parameters: workflowArguments(discoveryInputs) },
      workflowMetadata: workflowMetadata('Discovery'),
      templates: [
        discover,
      ],
    },
  };
}
