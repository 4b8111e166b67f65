import { copy, digestOf, exists } from '../lib/crane.ts';
import { signatureTag } from '../lib/cosign.ts';
import { ForgeError } from '../lib/errors.ts';

export interface CopyResult {
  /** `trusted-repository@digest`. */
  reference: string;
  /** The cosign tags that came along (`sha256-….sig`, `.att`). */
  tags: string[];
  /** False when the trusted registry already had the digest (a rerun). */
  copied: boolean;
}

/**
 * Promotes the exact digest: crane copies every blob (mounted within one registry) before the
 * manifest that needs it, children before an index, and the manifest bytes unchanged; then the
 * cosign signature and attestation tags follow, and the digest is checked in the target. A copy
 * that fails part-way leaves no manifest (the registry refuses a manifest whose blobs are
 * missing, and the manifest is written last); running it again completes it.
 */
export async function promoteDigest(sourceRepository: string, digest: string, targetRepository: string): Promise<CopyResult> {
  const source = `${sourceRepository}@${digest}`;
  const target = `${targetRepository}@${digest}`;
  const already = await exists(target);
  if (!already) await copy(source, target);
  const tags: string[] = [];
  for (const kind of ['sig', 'att'] as const) {
    const tag = signatureTag(digest, kind);
    if (await exists(`${sourceRepository}:${tag}`)) {
      await copy(`${sourceRepository}:${tag}`, `${targetRepository}:${tag}`);
      tags.push(tag);
    }
  }
  const landed = await digestOf(target).catch(() => undefined);
  if (landed !== digest) {
    throw new ForgeError('COPY_FAILED', `after copying, ${target} resolves to ${landed ?? 'nothing'}: the trusted registry does not hold the promoted digest`);
  }
  return { reference: target, tags, copied: !already };
}
