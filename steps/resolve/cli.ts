import { z } from 'zod';
import { commonOptions, commonSchema, stepMain } from '../lib/cli.ts';
import { resolveImage } from './resolve.ts';

export const usage = `Usage: forge resolve --image REF [--output json] [--outputs-dir DIR]

Resolves an image reference to its digest (and, for an index, every platform manifest with its
compressed size and configured user). Later steps use only the digest.
`;

export const options = { image: { type: 'string' }, ...commonOptions } as const;
const schema = z.object({ image: z.string().min(1, 'the image to resolve is required'), ...commonSchema });

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'resolve',
    usage,
    options,
    schema,
    async run(v) {
      const image = await resolveImage(v.image);
      return {
        result: image,
        outputs: { digest: image.digest, reference: image.reference, 'image.json': JSON.stringify(image) },
        text: `${image.requested} → ${image.reference}\n${image.platforms.map((p) => `  ${p.platform} ${p.digest} ${p.compressedSize} bytes user=${p.user || '(root)'}`).join('\n')}\n`,
      };
    },
  });
}
