import { groupOutput, outputFile } from '../lib/contract.ts';
import type { DiscoveryOutput } from './contract.ts';

/**
 * The files forge-discovery's outputs read (`valueFrom.path`), by file name: small values for
 * parameters and the full contract for the artifact. Every file is always there, so no output
 * is ever missing. Written by `forge discover --outputs-dir` and by a discovery-pool job's dispatcher.
 */
export function argoOutputs(out: DiscoveryOutput, json: string): Record<string, string> {
  const summary = {
    commit: out.source.commit,
    projects: out.projects.length,
    groups: out.phaseGroups.length,
    tasks: out.slots.reduce((n, s) => n + s.tasks.length, 0),
    releaseProjects: out.releaseProjects,
  };
  return {
    [outputFile('discover', 'discovery')]: json,
    [outputFile('discover', 'summary')]: JSON.stringify(summary),
    [outputFile('discover', 'project-count')]: String(summary.projects),
    [outputFile('discover', 'group-count')]: String(summary.groups),
    [outputFile('discover', 'release-projects')]: JSON.stringify(out.releaseProjects),
    // forge-pipeline's release stage fans out over these (one forge-release per project).
    [outputFile('discover', 'releases')]: JSON.stringify(out.projects.filter((p) => p.releaseTriggered).map((p) => ({ project: p.name, path: p.path }))),
    ...Object.fromEntries(out.slots.map((s) => [groupOutput(s.slot), JSON.stringify(s.tasks)])),
  };
}
