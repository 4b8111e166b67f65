import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import type { Phase, ProjectConfig, RepoConfig, StepConfig } from './config.ts';
import { evaluateTriggers, invalidBranchPatterns, type GitContext } from './triggers.ts';

/**
 * The discovery output contract (docs/discovery-contract.md): what every later stage reads.
 * It is the reference §1.5 shape plus `slots`, the per-slot task lists `forge-pipeline` fans out.
 */
export interface DiscoveryOutput {
  apiVersion: 'forge.dev/v1alpha1';
  kind: 'Discovery';
  source: { repository?: string; commit: string; branch?: string; tag?: string; paths?: string[] };
  repository: RepoConfig;
  projects: DiscoveredProject[];
  phaseGroups: { group: number; phases: string[] }[];
  slots: Slot[];
  releaseEnabled: boolean;
  releaseProjects: string[];
  warnings: string[];
}

export interface DiscoveredProject {
  name: string;
  /** Repository-relative directory of the project (`.` for the root). */
  path: string;
  /** The project's configuration file, repository-relative. */
  config: string;
  /** Phase → steps, ordered by priority (higher first); steps of one `stage` run together. */
  phases: Record<string, DiscoveredStep[]>;
  artifacts: ProjectConfig['artifacts'];
  release: ProjectConfig['release'];
  releaseTriggered: boolean;
  releaseReason?: string;
  deploymentTriggered: boolean;
}

export type DiscoveredStep = Omit<StepConfig, 'timeout'> & { name: string; stage: number; timeout: string };

/** One unit of work of a phase-group slot: one project in one phase. Kept small: it is an Argo parameter. */
export interface Task {
  /** `<phase>-<project>`, unique in the run, used to name the Argo node and the hot-pool job. */
  id: string;
  phase: string;
  project: string;
  path: string;
  group: number;
  timeout: string;
  steps: number;
}

export interface Slot {
  slot: number;
  /** The repository phase group mapped to this slot, null when the repository has fewer groups. */
  group: number | null;
  tasks: Task[];
}

export const MAX_OUTPUT_BYTES = 1024 * 1024;
const SUPPORTED_MAJOR = 1;
const SUPPORTED_MINOR = 0;

export interface BuildInput {
  repoFile: string;
  repo: RepoConfig;
  projects: { file: string; config: ProjectConfig }[];
  source: DiscoveryOutput['source'];
  context: GitContext;
  slots: number;
}

/** Turns evaluated configuration into the contract, enforcing the rules CUE alone cannot express. */
export function buildDiscovery(input: BuildInput): DiscoveryOutput {
  const { repo, repoFile } = input;
  const warnings: string[] = [];
  const errors: ForgeErrorDetail[] = [];
  checkForgeVersion(repo.forgeVersion, repoFile, warnings);

  const groups = [...new Set(Object.values(repo.phases).map((p) => p.group))].sort((a, b) => a - b);
  if (groups.length > input.slots) {
    errors.push({
      file: repoFile,
      field: 'phases',
      message: `the repository defines ${groups.length} phase groups (${groups.join(', ')}) but the platform runs at most ${input.slots} (platform config pipeline.phaseGroupSlots)`,
    });
  }

  const seen = new Map<string, string>();
  const projects: DiscoveredProject[] = [];
  for (const { file, config } of input.projects) {
    const previous = seen.get(config.name);
    if (previous) {
      errors.push({ file, field: 'name', message: `project name "${config.name}" is already used by ${previous}` });
      continue;
    }
    seen.set(config.name, file);
    const badPatterns = invalidBranchPatterns(config);
    for (const message of badPatterns) errors.push({ file, field: 'release.on', message });
    errors.push(...checkParticipation(config, repo, file));
    const trigger = badPatterns.length > 0 ? { triggered: false } : evaluateTriggers(config, repo, input.context);
    projects.push({
      name: config.name,
      path: posix.dirname(posix.dirname(file)),
      config: file,
      phases: orderPhases(config, repo.phases),
      artifacts: config.artifacts,
      release: config.release,
      releaseTriggered: trigger.triggered,
      ...(trigger.reason ? { releaseReason: trigger.reason } : {}),
      deploymentTriggered: trigger.triggered && config.deployment.resources.length > 0,
    });
  }
  if (errors.length > 0) {
    throw new ForgeError('DISCOVERY_INVALID', `the repository's forge configuration breaks ${errors.length} rule(s)`, errors);
  }
  projects.sort((a, b) => a.path.localeCompare(b.path) || a.name.localeCompare(b.name));

  const phaseGroups = groups.map((group) => ({
    group,
    phases: Object.entries(repo.phases)
      .filter(([, p]) => p.group === group)
      .map(([name]) => name)
      .sort(),
  }));
  const ids = new Set<string>();
  const slots: Slot[] = Array.from({ length: input.slots }, (_, i) => {
    const group = phaseGroups[i];
    return { slot: i + 1, group: group?.group ?? null, tasks: group ? tasksFor(group.phases, projects, repo.phases, ids) : [] };
  });
  const releaseProjects = projects.filter((p) => p.releaseTriggered).map((p) => p.name);
  return {
    apiVersion: 'forge.dev/v1alpha1',
    kind: 'Discovery',
    source: input.source,
    repository: repo,
    projects,
    phaseGroups,
    slots,
    releaseEnabled: releaseProjects.length > 0,
    releaseProjects,
    warnings,
  };
}

function checkForgeVersion(version: string, file: string, warnings: string[]): void {
  const [major, minor] = version.slice(1).split('.').map(Number);
  if (major !== SUPPORTED_MAJOR) {
    throw new ForgeError('VERSION_MISMATCH', `version mismatch: forgeVersion ${version} needs forge v${major}.x, this library implements v${SUPPORTED_MAJOR}.${SUPPORTED_MINOR}`, [
      { file, field: 'forgeVersion', message: `major version ${major} is not supported` },
    ]);
  }
  if ((minor ?? 0) > SUPPORTED_MINOR) {
    warnings.push(`${file}: forgeVersion ${version} is newer than v${SUPPORTED_MAJOR}.${SUPPORTED_MINOR}; fields added since are not understood`);
  }
}

/** Projects may only use phases the repository defines, and must take part in required ones. */
function checkParticipation(config: ProjectConfig, repo: RepoConfig, file: string): ForgeErrorDetail[] {
  const errors: ForgeErrorDetail[] = [];
  const defined = Object.keys(repo.phases);
  for (const phase of Object.keys(config.ci.phases)) {
    if (!(phase in repo.phases)) {
      errors.push({ file, field: `ci.phases.${phase}`, message: `phase "${phase}" is not defined in .forge/repo.cue (defined: ${defined.join(', ') || 'none'})` });
    } else if (Object.keys(config.ci.phases[phase]!).length === 0) {
      errors.push({ file, field: `ci.phases.${phase}`, message: `phase "${phase}" has no steps` });
    }
  }
  for (const [phase, def] of Object.entries(repo.phases)) {
    if (def.required && !(phase in config.ci.phases)) {
      errors.push({ file, field: 'ci.phases', message: `phase "${phase}" is required by .forge/repo.cue but the project defines no steps for it` });
    }
  }
  for (const [name, artifact] of Object.entries(config.artifacts)) {
    const producers = Object.keys(artifact.producer).filter((k) => artifact.producer[k as 'earthly' | 'script']);
    if (producers.length !== 1) {
      errors.push({ file, field: `artifacts.${name}.producer`, message: `exactly one producer is required, found ${producers.length === 0 ? 'none' : producers.join(' and ')}` });
    }
    for (const publisher of Object.keys(artifact.publishers)) {
      if (!(publisher in repo.publishers)) {
        errors.push({ file, field: `artifacts.${name}.publishers.${publisher}`, message: `publisher "${publisher}" is not defined in .forge/repo.cue` });
      }
    }
  }
  return errors;
}

/** Orders each phase's steps by priority (higher first, then name) and numbers the stages. */
function orderPhases(config: ProjectConfig, phases: Record<string, Phase>): Record<string, DiscoveredStep[]> {
  const out: Record<string, DiscoveredStep[]> = {};
  for (const phase of Object.keys(config.ci.phases).sort()) {
    const steps = Object.entries(config.ci.phases[phase]!)
      .sort(([an, a], [bn, b]) => b.priority - a.priority || an.localeCompare(bn))
      .map(([name, step]) => ({ name, ...step, timeout: step.timeout ?? phases[phase]?.timeout ?? '30m' }));
    let stage = 0;
    out[phase] = steps.map((s, i) => {
      if (i > 0 && s.priority !== steps[i - 1]!.priority) stage++;
      return { ...s, stage };
    });
  }
  return out;
}

/**
 * `<phase>-<project>`, at most 63 characters (an Argo node and Kubernetes name part). When that
 * is taken — long names cut short, or `build-x` + `y` vs `build` + `x-y` — a short hash of the
 * pair keeps it unique and stable.
 */
function taskId(phase: string, project: string, taken: Set<string>): string {
  let id = `${phase}-${project}`;
  if (id.length > 63 || taken.has(id)) {
    const hash = createHash('sha256').update(`${phase}/${project}`).digest('hex').slice(0, 8);
    id = `${id.slice(0, 54)}-${hash}`;
  }
  taken.add(id);
  return id;
}

function tasksFor(phases: string[], projects: DiscoveredProject[], defs: Record<string, Phase>, ids: Set<string>): Task[] {
  const tasks: Task[] = [];
  for (const phase of phases) {
    for (const p of projects) {
      const steps = p.phases[phase];
      if (!steps) continue;
      tasks.push({
        id: taskId(phase, p.name, ids),
        phase,
        project: p.name,
        path: p.path,
        group: defs[phase]!.group,
        timeout: defs[phase]!.timeout,
        steps: steps.length,
      });
    }
  }
  return tasks;
}
