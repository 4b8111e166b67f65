import { ForgeError } from './errors.ts';

/** A `sha256:` manifest digest as registries print it. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** `host[:port]/path[:tag][@sha256:…]` → repository, tag, digest (a port's colon is not a tag). */
export function parseReference(reference: string): { repository: string; tag?: string; digest?: string } {
  const at = reference.indexOf('@');
  const name = at === -1 ? reference : reference.slice(0, at);
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const [repository, tag] = colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, undefined];
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * A reference pinned by digest (`repo@sha256:…`, or `repo:tag@sha256:…` where the tag is
 * ignored) → repository and digest; anything else is an INVALID_ARGS error that says why.
 */
export function parsePinnedReference(reference: string): { repository: string; digest: string } {
  const { repository, digest } = parseReference(reference.trim());
  if (!repository) throw new ForgeError('INVALID_ARGS', `reference ${JSON.stringify(reference)} has no repository`);
  if (digest === undefined) {
    throw new ForgeError('INVALID_ARGS', `reference ${JSON.stringify(reference)} is not pinned: expected REPOSITORY@sha256:<64 hex>`);
  }
  if (!DIGEST_PATTERN.test(digest)) {
    throw new ForgeError('INVALID_ARGS', `reference ${JSON.stringify(reference)} has digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex characters>`);
  }
  return { repository, digest };
}
