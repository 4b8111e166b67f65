import type { DiscoveredProject, DiscoveryOutput } from '../discover/contract.ts';
import { dockerTarget } from '../lib/release/publish.ts';

/**
 * The incoming reference a container artifact is published to by its first `docker` publisher
 * (by name) — where verify-and-promote takes it from; none for other artifacts.
 */
export function incomingImage(repo: DiscoveryOutput['repository'], project: DiscoveredProject, artifact: string, commit: string, ref: { branch?: string; tag?: string }): string | undefined {
  const a = project.artifacts[artifact];
  if (a?.type !== 'container') return undefined;
  const name = Object.keys(a.publishers).sort().find((p) => repo.publishers[p]?.type === 'docker');
  if (!name) return undefined;
  const target = dockerTarget({ project: project.name, artifact, commit, ...ref }, `artifact ${artifact}: publisher ${name}`, repo.publishers[name], a.publishers[name]);
  return `${target.full}:${target.tags[0]}`;
}
