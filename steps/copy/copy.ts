import { digestOf, exists, tagsOf } from '../lib/crane.ts';
import { signatureTag } from '../lib/cosign.ts';
import { ForgeError } from '../lib/errors.ts';
import { orasCopy } from '../lib/oras.ts';

export interface CopyResult {
  /** `trusted-repository@digest`. */
  reference: string;
  /** The cosign tags copied this time (`sha256-….sig`, `.att`); none that the trusted registry already had. */
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
 * alongside (see `copySignatureTags`), so the image is signed the moment its manifest appears in
 * the trusted registry; then the digest is checked in the target. A copy that fails part-way
 * leaves no manifest without its blobs (the registry refuses one, and oras writes each manifest
 * last); running it again completes it.
 */
export async function promoteDigest(sourceRepository: string, digest: string, targetRepository: string): Promise<CopyResult> {
  const source = `${sourceRepository}@${digest}`;
  const target = `${targetRepository}@${digest}`;
  const already = await exists(target);
  // Wait for every copy, even after one failed, so no oras process outlives the step.
  const copies = await Promise.allSettled([already ? Promise.resolve() : orasCopy(source, target, COPY_CONCURRENCY), copySignatureTags(sourceRepository, digest, targetRepository)]);
  const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) {
    const e: unknown = failed.reason;
    // Both copies reject only with the tools' errors: `<tool> <args> failed (exit n): <reason>`.
    const reason = (e as Error).message.replace(/.*failed \(exit \d+\): /s, '');
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
  const tags = (copies[1] as PromiseFulfilledResult<string[]>).value;
  return { reference: target, tags, copied: !already };
}

/**
 * The `.sig`/`.att` tags of the digest, each pinned to the manifest digest it names when read
 * and copied by that digest, and only where the trusted registry has no such tag yet: incoming
 * content never replaces or removes a signature or attestation already trusted (the promotion
 * attestation lives in the trusted `.att`). The trusted tags are read right before the writes,
 * after the source tags are pinned. Callers hold the per-image promotion lock, so no attestation
 * is written in between.
 */
async function copySignatureTags(sourceRepository: string, digest: string, targetRepository: string): Promise<string[]> {
  const sourceTags = await tagsOf(sourceRepository);
  const wanted = (['sig', 'att'] as const).map((kind) => signatureTag(digest, kind)).filter((tag) => sourceTags.includes(tag));
  const pinned = await Promise.all(wanted.map(async (tag) => ({ tag, digest: await digestOf(`${sourceRepository}:${tag}`) })));
  const targetTags = await tagsOf(targetRepository);
  const copies = await Promise.allSettled(
    pinned.filter((t) => !targetTags.includes(t.tag)).map(async (t) => {
      await orasCopy(`${sourceRepository}@${t.digest}`, `${targetRepository}:${t.tag}`);
      return t.tag;
    }),
  );
  const failed = copies.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) throw failed.reason;
  return copies.map((c) => (c as PromiseFulfilledResult<string>).value);
}
