import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { loadPromotionSettings, pick, SETTINGS_FILE } from '../lib/promotion-settings.ts';
import type { ResolvedImage } from '../lib/image-info.ts';
import { DEFAULT_MAX_COMPRESSED_BYTES, evaluatePolicy, formatBytes, parseSize, policyError } from './policy.ts';

export const usage = `Usage: forge policy --image-info JSON [--max-size 2GiB]

Checks the promotion policies on a resolved image (the image.json output of forge resolve):
not referenced as latest, pinned by digest, compressed size per platform, non-root user.
Default size limit ${formatBytes(DEFAULT_MAX_COMPRESSED_BYTES)}; --promotion-policy NAME takes it from the
promotion settings (--settings FILE, default ${SETTINGS_FILE}).
`;

const schema = z.object({
  'image-info': z.string().min(1),
  'max-size': z.string().optional(),
  'promotion-policy': z.string().optional(),
  settings: z.string().optional(),
  ...commonSchema,
});

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'policy',
    usage,
    schema,
    async run(v) {
      let image: ResolvedImage;
      try {
        image = JSON.parse(v['image-info']) as ResolvedImage;
      } catch {
        throw new ForgeError('INVALID_ARGS', '--image-info must be the JSON that forge resolve writes to image.json');
      }
      const maxSize = v['promotion-policy']
        ? pick((await loadPromotionSettings(v.settings)).promotionPolicies, v['promotion-policy'], 'promotion policy').maxSize
        : v['max-size'];
      const result = evaluatePolicy(image, { maxCompressedBytes: maxSize ? parseSize(maxSize) : DEFAULT_MAX_COMPRESSED_BYTES });
      if (!result.passed) throw policyError(image, result);
      return {
        result,
        outputs: outputFiles('policy', { 'policy-results': JSON.stringify(result.checks) }),
        text: result.checks.map((c) => `✓ ${c.check}${c.platform ? ` (${c.platform})` : ''}: ${c.actual}`).join('\n') + '\n',
      };
    },
  });
}
