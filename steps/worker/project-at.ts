import { ForgeError } from '../lib/errors.ts';
import type { Job } from '../lib/pool/job.ts';
import type { DiscoveredProject, DiscoveryOutput } from '../discover/contract.ts';
import { discover } from '../discover/discover.ts';

/**
 * A project's configuration as the commit has it, evaluated by discovery (the same checks and
 * limits): what phase and release jobs act on — the steps, artifacts and triggers come from the
 * repository, never from the job payload. CUE runs once per (commit, path, branch, tag).
 */
const evaluated = new Map<string, DiscoveryOutput>();
const MAX_EVALUATED = 200;

export interface ProjectAt {
  output: DiscoveryOutput;
  project: DiscoveredProject;
}

export async function projectAt(job: Job, dir: string, where: { project: string; path: string; branch?: string; tag?: string }): Promise<ProjectAt> {
  const key = [job.repository, job.commit, where.path, where.branch ?? '', where.tag ?? ''].join('\n');
  let output = evaluated.get(key);
  if (!output) {
    output = (await discover({ source: dir, commit: job.commit, paths: [where.path], slots: 100, branch: where.branch, tag: where.tag })).output;
    evaluated.set(key, output);
    if (evaluated.size > MAX_EVALUATED) evaluated.delete(evaluated.keys().next().value!);
  }
  const project = output.projects.find((p) => p.name === where.project && p.path === where.path);
  if (!project) throw new ForgeError('JOB_INVALID', `no project "${where.project}" at ${where.path}/.forge/project.cue in commit ${job.commit}`);
  return { output, project };
}
