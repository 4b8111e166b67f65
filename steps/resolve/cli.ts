import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { resolveImage, trustedRepositoryFor } from './resolve.ts';

export const usage = `Usage: forge resolve --image REF [--output json] [--outputs-dir DIR]

Resolves an image reference to its digest (and, for an index, every platform manifest with its
compressed size and configured user). Later steps use only the digest.
With --incoming PREFIX --trusted PREFIX it also refuses an image outside the incoming registry
and names the trusted repository it will be promoted to (output trusted-repository).
`;

const schema = z.object({
  image: z.string().min(1, 'the image to resolve is required'),
  incoming: z.string().optional(),
  trusted: z.string().optional(),
  ...commonSchema,
});

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'resolve',
    usage,
    schema,
    async run(v) {
      if (Boolean(v.incoming) !== Boolean(v.trusted)) throw new ForgeError('INVALID_ARGS', 'give --incoming and --trusted together');
      // The boundary is checked before any registry is contacted.
      const trustedRepository = v.incoming && v.trusted ? trustedRepositoryFor(v.image, { incoming: v.incoming, trusted: v.trusted }) : '';
      const image = await resolveImage(v.image);
      return {
        result: { ...image, ...(trustedRepository ? { trustedRepository } : {}) },
        outputs: outputFiles('resolve', { digest: image.digest, reference: image.reference, 'image-info': JSON.stringify(image), 'trusted-repository': trustedRepository }),
        text: `${image.requested} → ${image.reference}\n${image.platforms.map((p) => `  ${p.platform} ${p.digest} ${p.compressedSize} bytes user=${p.user || '(root)'}`).join('\n')}\n`,
      };
    },
  });
}
