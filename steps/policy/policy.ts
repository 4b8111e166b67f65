import { ForgeError } from '../lib/errors.ts';
import type { ResolvedImage } from '../lib/image-info.ts';
import { checkPinned, checkSize, checkTag, checkUser, formatBytes, type CheckResult } from './checks.ts';

export interface PromotionPolicy {
  /** Largest compressed size of one platform image, bytes. */
  maxCompressedBytes: number;
}

export const DEFAULT_MAX_COMPRESSED_BYTES = 2 * 1024 ** 3;

export interface PolicyResult {
  passed: boolean;
  checks: CheckResult[];
}

/** Runs every policy check (none short-circuits, so a refusal lists everything to fix). */
export function evaluatePolicy(image: ResolvedImage, policy: PromotionPolicy): PolicyResult {
  const checks: CheckResult[] = [checkTag(image.requested), checkPinned(image.reference)];
  for (const p of image.platforms) {
    const platform = image.index ? p.platform : undefined;
    checks.push(checkSize(p.compressedSize, policy.maxCompressedBytes, platform), checkUser(p.user, platform, p.userLookup));
  }
  return { passed: checks.every((c) => c.passed), checks };
}

/** The refusal a person reads in the Argo UI: each failed check with required vs actual. */
export function policyError(image: ResolvedImage, result: PolicyResult): ForgeError {
  const failed = result.checks.filter((c) => !c.passed);
  return new ForgeError(
    'POLICY_VIOLATION',
    `${image.requested} breaks ${failed.length} promotion polic${failed.length === 1 ? 'y' : 'ies'}: ${failed.map((c) => c.check).join(', ')}`,
    failed.map((c) => ({ field: c.platform ? `${c.check} (${c.platform})` : c.check, message: `required ${c.required}; actual ${c.actual}` })),
  );
}

export { formatBytes };
/** The size syntax is defined once, in steps/lib/size.ts. */
export { parseSize } from '../lib/size.ts';
