import { digestOf, exists, tagsOf } from '../lib/crane.ts';
import { signatureTag } from '../lib/cosign.ts';
import { ForgeError } from '../lib/errors.ts';
import { orasCopy } from '../lib/oras.ts';

export interface CopyResult {
  /** `trusted-repository@digest`. */
  reference: string;
  /** The cosign tags that came along (`sha256-….sig`, `.att`). */
  tags: string[];
  /** False when the trusted registry already had the digest (a rerun). */
  copied: boolean;
}

/** oras's own default: higher values measured no faster here (`npm run bench -- promote`, docs/benchmarks.md). */
const COPY_CONCURRENCY = 3;

/**
 * Promotes the exact digest: oras copies the content graph bottom-up — every blob (mounted
 * within one registry) before the manifest that needs it, children before an index — with the
 * manifest bytes unchanged. The cosign signature and attestation tags of that digest travel
 * alongside, so the image is signed the moment its manifest appears in the trusted registry; then
 * the digest is checked in the target. A copy that fails part-way leaves no manifest without its
 * blobs (the registry refuses one, and oras writes each manifest last); running it again
 * completes it.
 */
export async function promoteDigest(sourceRepository: string, digest: string, targetRepository: string): Promise<CopyResult> {
  const source = `${sourceRepository}@${digest}`;
  const target = `${targetRepository}@${digest}`;
  const [already, sourceTags] = await Promise.all([exists(target), tagsOf(sourceRepository)]);
  const tags = (['sig', 'att'] as const).map((kind) => signatureTag(digest, kind)).filter((tag) => sourceTags.includes(tag));
  // Wait for every copy, even after one failed, so no oras process outlives the step.
  const copies = await Promise.allSettled([
    already ? Promise.resolve() : orasCopy(source, target, COPY_CONCURRENCY),
    ...tags.map((tag) => orasCopy(`${sourceRepository}:${tag}`, `${targetRepository}:${tag}`)),
  ]);
  const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) {
    const e: unknown = failed.reason;
    const reason = e instanceof Error ? e.message.replace(/^.*failed \(exit \d+\): /s, '') : String(e);
    throw new ForgeError(
      'COPY_FAILED',
      `copying ${source} to ${targetRepository} failed: ${reason}. No manifest without its blobs was written (each manifest goes last); run the promotion again to complete it`,
      [],
      { cause: e },
    );
  }
  const landed = await digestOf(target).catch(() => undefined);
  if (landed !== digest) {
    throw new ForgeError('COPY_FAILED', `after copying, ${target} resolves to ${landed ?? 'nothing'}: the trusted registry does not hold the promoted digest`);
  }
  return { reference: target, tags, copied: !already };
}
