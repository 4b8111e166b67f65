import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, pinnedImage, stepMain } from '../lib/cli.ts';
import { parsePinnedReference } from '../lib/reference.ts';
import { promoteDigest } from './copy.ts';

export const usage = `Usage: forge copy --image REPO@sha256:… --target-repository TRUSTED/REPO

Copies the exact digest (and its cosign .sig/.att tags) to the trusted repository with oras:
blobs before manifests, children before an index, manifest bytes unchanged. Idempotent.
`;

const schema = z.object({
  image: pinnedImage,
  'target-repository': z.string().regex(/^[^@:]+(:\d+)?\/[^@:]+$/, 'must be <registry>/<repository> without tag or digest'),
  ...commonSchema,
});

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'copy',
    usage,
    schema,
    async run(v) {
      const { repository, digest } = parsePinnedReference(v.image);
      const result = await promoteDigest(repository, digest, v['target-repository']);
      return {
        result,
        outputs: outputFiles('copy', { 'trusted-reference': result.reference }),
        text: `✓ ${result.copied ? 'copied' : 'already present'}: ${result.reference}${result.tags.length ? ` (+ ${result.tags.join(', ')})` : ''}\n`,
      };
    },
  });
}
