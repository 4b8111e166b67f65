import { USER_NAME, type UserLookup } from '../lib/image-passwd.ts';
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

/** The largest UID Linux and Kubernetes accept (int32). */
export const MAX_UID = 2147483647;
const DECIMAL_UID = /^[1-9][0-9]{0,9}$/;
const GROUP = /^(?:[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31})$/;

/** A canonical decimal UID in 1…2147483647 (so `0`, `00`, `+0`, `0x0`, ` 1` and `-1` are not). */
export function isNonRootUid(text: string): boolean {
  return DECIMAL_UID.test(text) && Number(text) <= MAX_UID;
}

/**
 * The image's configured user must not be root, read the way a container runtime reads it:
 * `uid[:group]` with a canonical decimal UID in 1…2147483647, or `name[:group]` where the name
 * maps to such a UID in the image's own /etc/passwd (resolve looks it up). Anything else fails:
 * empty (root), `0`, `root`, `+0`, `00`, `0x1`, names missing from /etc/passwd, extra colons.
 */
export function checkUser(user: string | undefined, platform?: string, lookup?: UserLookup): CheckResult {
  const value = user ?? '';
  const fail = (actual: string): CheckResult => ({ ...result, passed: false, actual });
  const result: CheckResult = {
    check: 'non-root',
    passed: true,
    required: `a non-root user: a decimal UID in 1…${MAX_UID} (optionally :group), or a name the image's /etc/passwd maps to one`,
    actual: `USER ${value}`,
    ...(platform ? { platform } : {}),
  };
  if (value === '') return fail('no USER set (runs as root)');
  const parts = value.split(':');
  const [name = '', group] = parts;
  if (parts.length > 2) return fail(`USER ${JSON.stringify(value)} is not user[:group]`);
  if (group !== undefined && !GROUP.test(group)) return fail(`USER ${JSON.stringify(value)} has group ${JSON.stringify(group)}, not a decimal GID or a group name`);
  if (/^[0-9]+$/.test(name)) return isNonRootUid(name) ? result : fail(`USER ${value} (UID ${name} is ${/^0+$/.test(name) ? 'root' : 'not a canonical UID in range'})`);
  if (!USER_NAME.test(name)) return fail(`USER ${JSON.stringify(value)} is neither a decimal UID nor a user name`);
  if (!lookup) return fail(`USER ${value} (the name was not looked up in the image's /etc/passwd)`);
  if ('missing' in lookup) return fail(`USER ${value} (${lookup.missing})`);
  return isNonRootUid(lookup.uid) ? { ...result, actual: `USER ${value} (UID ${lookup.uid} in the image's /etc/passwd)` } : fail(`USER ${value} (UID ${JSON.stringify(lookup.uid)} in the image's /etc/passwd)`);
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
