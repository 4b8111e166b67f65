import { ForgeError } from './errors.ts';

/**
 * Image references parsed with the distribution grammar (distribution/reference `reference.go`),
 * never by splitting strings: a path component is lower-case alphanumerics joined by `.`, `_`,
 * `__` or dashes, so `.`, `..` and empty components cannot occur, and boundaries are compared
 * component by component. Every reference the gates see is fully qualified (`registry/path`).
 */

/** A `sha256:` manifest digest as registries print it. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

// Each piece is linear: separators are mandatory between alphanumeric runs.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/** distribution's limit on the length of a repository name (registry and path). */
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageReference {
  /** `host[:port]`, as written. */
  registry: string;
  /** Path components below the registry (`team`, `app`). */
  path: string[];
  /** `registry/path` — the repository the registry API is addressed with. */
  repository: string;
  tag?: string;
  digest?: string;
}

function invalid(text: string, why: string): ForgeError {
  return new ForgeError('INVALID_ARGS', `${JSON.stringify(text)} is not a valid image reference: ${why}`);
}

/** `host[:port]`: DNS labels or an IPv4/IPv6 literal, optional numeric port. */
function checkRegistry(text: string, registry: string): void {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/.exec(registry);
  const host = m?.[1] ?? '';
  const port = m?.[2];
  const hostOk = IPV6_HOST.test(host) || (host !== '' && host.split('.').every((c) => DOMAIN_COMPONENT.test(c)));
  if (!m || !hostOk) throw invalid(text, `registry ${JSON.stringify(registry)} is not host[:port]`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw invalid(text, `port ${port} is out of range`);
}

/**
 * `registry[:port]/path[:tag][@digest]` → its parts, or an error naming the
 * offending part (INVALID_ARGS). The first component must be a registry (contains `.` or `:`, or is `localhost`):
 * a short name like `team/app` would silently mean Docker Hub.
 */
export function parseImageReference(text: string): ImageReference {
  if (text.length > 1024) throw invalid(text.slice(0, 64) + '…', 'longer than 1024 characters');
  const at = text.indexOf('@');
  const namePart = at === -1 ? text : text.slice(0, at);
  const digest = at === -1 ? undefined : text.slice(at + 1);
  if (digest !== undefined && digest.startsWith('sha256:') && !DIGEST_PATTERN.test(digest)) {
    throw invalid(text, `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex characters>`);
  }
  if (digest !== undefined && !ANY_DIGEST.test(digest)) throw invalid(text, `digest ${JSON.stringify(digest)} is not algorithm:hex`);
  const slash = namePart.indexOf('/');
  if (slash === -1) throw invalid(text, 'give <registry>/<repository>[:tag|@digest]');
  const registry = namePart.slice(0, slash);
  let rest = namePart.slice(slash + 1);
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(text, `tag ${JSON.stringify(tag)} is not 1-128 of [A-Za-z0-9_.-] starting with a word character`);
  }
  if (!(registry.includes('.') || registry.includes(':') || registry === 'localhost')) {
    throw invalid(text, `${JSON.stringify(registry)} is not a registry host: give <registry>/<repository>`);
  }
  checkRegistry(text, registry);
  const path = rest.split('/');
  for (const [i, c] of path.entries()) {
    if (!PATH_COMPONENT.test(c)) {
      const why = c === '' ? 'is empty' : c === '.' || c === '..' ? 'is a relative path segment' : 'is not lower-case letters and digits joined by ".", "_", "__" or "-"';
      throw invalid(text, `path component ${i + 1} ${JSON.stringify(c)} ${why}`);
    }
  }
  const repository = `${registry}/${path.join('/')}`;
  if (repository.length > NAME_TOTAL_LENGTH_MAX) throw invalid(text, `the repository name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  return { registry, path, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `host[:port]/path[:tag][@sha256:…]` → repository, tag, digest (through the grammar). */
export function parseReference(reference: string): { repository: string; tag?: string; digest?: string } {
  const { repository, tag, digest } = parseImageReference(reference);
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * A reference pinned by digest (`repo@sha256:…`, or `repo:tag@sha256:…` where the tag is
 * ignored) → repository and digest; anything else is an INVALID_ARGS error that says why.
 */
export function parsePinnedReference(reference: string): { repository: string; digest: string } {
  const { repository, digest } = parseReference(reference.trim());
  if (digest === undefined) {
    throw new ForgeError('INVALID_ARGS', `reference ${JSON.stringify(reference)} is not pinned: expected REPOSITORY@sha256:<64 hex>`);
  }
  if (!DIGEST_PATTERN.test(digest)) {
    throw new ForgeError('INVALID_ARGS', `reference ${JSON.stringify(reference)} has digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex characters>`);
  }
  return { repository, digest };
}

/** A registry location prefix (`host[:port]` or `host[:port]/path…`, as the platform config names one). */
export interface RegistryPrefix {
  registry: string;
  path: string[];
}

export function parseRegistryPrefix(text: string): RegistryPrefix {
  const trimmed = text.replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  if (slash === -1) {
    checkRegistry(text, trimmed);
    return { registry: trimmed, path: [] };
  }
  const { registry, path } = parseImageReference(trimmed);
  return { registry, path };
}

/**
 * The path of `ref` below `prefix`, compared component by component (registry names compare
 * case-insensitively, as DNS does); undefined when `ref` is not inside `prefix`.
 */
export function pathBelow(ref: ImageReference, prefix: RegistryPrefix): string[] | undefined {
  if (ref.registry.toLowerCase() !== prefix.registry.toLowerCase()) return undefined;
  if (ref.path.length <= prefix.path.length) return undefined;
  if (!prefix.path.every((c, i) => ref.path[i] === c)) return undefined;
  return ref.path.slice(prefix.path.length);
}
