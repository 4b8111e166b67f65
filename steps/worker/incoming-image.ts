import type { DiscoveredProject, DiscoveryOutput } from '../discover/contract.ts';
import { dockerReference } from '../lib/release/docker-reference.ts';

/**
 * The incoming reference a container artifact is published to by its first `docker` publisher
 * (by name), which verify-and-promote takes; none for other artifacts.
 */
export function incomingImage(repo: DiscoveryOutput['repository'], project: DiscoveredProject, artifact: string, commit: string, ref: { branch?: string; tag?: string }): string | undefined {
  const a = project.artifacts[artifact];
  if (a?.type !== 'container') return undefined;
  const name = Object.keys(a.publishers).sort().find((p) => repo.publishers[p]?.type === 'docker');
  if (!name) return undefined;
  const settings = repo.publishers[name] as { registry?: unknown; namespace?: unknown };
  const own = a.publishers[name] as { tags?: unknown };
  return dockerReference({ registry: String(settings.registry ?? ''), namespace: typeof settings.namespace === 'string' ? settings.namespace : undefined, project: project.name, artifact, commit, ...ref, tags: own.tags });
}
