import { DIGEST_PATTERN, parseReference } from '../lib/reference.ts';

/**
 * The promotion policy checks (seed 000 §4.3): pure functions over what the registry says about
 * an image. Each returns required vs actual so a refusal tells a person exactly what to change.
 */
export interface CheckResult {
  check: 'size' | 'pinned' | 'not-latest' | 'non-root';
  passed: boolean;
  required: string;
  actual: string;
  /** Which platform manifest the check is about, for an index. */
  platform?: string;
}

/** Compressed size of one platform image: config + layers as the manifest declares them. */
export function checkSize(compressedBytes: number, limitBytes: number, platform?: string): CheckResult {
  return {
    check: 'size',
    passed: compressedBytes <= limitBytes,
    required: `≤ ${formatBytes(limitBytes)} compressed`,
    actual: `${formatBytes(compressedBytes)} compressed (${compressedBytes} bytes)`,
    ...(platform ? { platform } : {}),
  };
}

/**
 * The reference the promotion was asked for: it must not name the tag `latest` (explicitly or by
 * omission), and what gets promoted is always the digest it resolved to.
 */
export function checkTag(reference: string): CheckResult {
  const { tag, digest } = parseReference(reference);
  const latest = tag === 'latest' || (!tag && !digest);
  return {
    check: 'not-latest',
    passed: !latest,
    required: 'a version tag or a digest, not "latest"',
    actual: tag ? `tag "${tag}"` : digest ? `digest ${digest}` : 'no tag (means "latest")',
  };
}

/** The promoted reference must be pinned by digest. */
export function checkPinned(reference: string): CheckResult {
  const { digest } = parseReference(reference);
  return {
    check: 'pinned',
    passed: DIGEST_PATTERN.test(digest ?? ''),
    required: 'reference pinned by sha256 digest',
    actual: digest ? reference : `${reference} (not pinned)`,
  };
}

/**
 * The image's configured user must not be root: empty (defaults to root), `0`, `root`, and
 * `0:<group>` / `root:<group>` fail; a numeric UID > 0 or a named non-root user passes.
 */
export function checkUser(user: string | undefined, platform?: string): CheckResult {
  const value = (user ?? '').trim();
  const name = value.split(':')[0] ?? '';
  const root = name === '' || name === 'root' || /^0+$/.test(name);
  return {
    check: 'non-root',
    passed: !root,
    required: 'a non-root user (numeric UID > 0 or a named non-root user)',
    actual: value === '' ? 'no USER set (runs as root)' : `USER ${value}`,
    ...(platform ? { platform } : {}),
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}
