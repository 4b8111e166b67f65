import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, pinnedImage, stepMain, transparencyLogFlag } from '../lib/cli.ts';
import { cosignKeyRef, loadPromotionSettings, SETTINGS_FILE } from '../lib/promotion-settings.ts';
import { parsePinnedReference } from '../lib/reference.ts';
import { attestPromotion } from './attest.ts';

export const usage = `Usage: forge attest --image TRUSTED@sha256:… --source REF --key KEY --verify-key PUB --transparency-log true|false [...]

Signs a promotion attestation (in-toto, predicate https://forge.dev/attestations/promotion/v1)
on the trusted image with the promotion key, then verifies it with the public key.
The private key's password comes from COSIGN_PASSWORD.
  --signer WHO --scan-summary JSON --policy-results JSON    what the earlier steps found
  --workflow-name NAME --workflow-uid UID                   default: ARGO_WORKFLOW_NAME / _UID
  --settings FILE   take --verify-key and --transparency-log from the promotion settings
                    (default ${SETTINGS_FILE} when neither is given)
`;

const json = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
});

const schema = z.object({
  image: pinnedImage,
  source: z.string().min(1),
  key: z.string().min(1),
  'verify-key': z.string().min(1).optional(),
  'transparency-log': transparencyLogFlag.optional(),
  settings: z.string().optional(),
  signer: z.string().default(''),
  'scan-summary': json.default('{}'),
  'policy-results': json.default('[]'),
  'workflow-name': z.string().default(process.env.ARGO_WORKFLOW_NAME ?? 'local'),
  'workflow-uid': z.string().default(process.env.ARGO_WORKFLOW_UID ?? ''),
  ...commonSchema,
});

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'attest',
    usage,
    schema,
    async run(v) {
      let verifyKey = v['verify-key'];
      let transparencyLog = v['transparency-log'] === 'true';
      if (!verifyKey || !v['transparency-log']) {
        const settings = await loadPromotionSettings(v.settings);
        verifyKey ??= await cosignKeyRef(settings.attestationPublicKey);
        if (!v['transparency-log']) transparencyLog = settings.transparencyLog;
      }
      const { digest } = parsePinnedReference(v.image);
      const result = await attestPromotion(
        v.image,
        {
          source: v.source,
          digest,
          trusted: v.image,
          signer: v.signer,
          scan: v['scan-summary'],
          policy: v['policy-results'],
          workflow: { name: v['workflow-name'], uid: v['workflow-uid'] },
          promotedAt: new Date().toISOString(),
        },
        { key: v.key, password: process.env.COSIGN_PASSWORD, transparencyLog },
        { key: verifyKey, transparencyLog },
      );
      return {
        result,
        outputs: outputFiles('attest', { 'attestation-digest': result.attestationDigest }),
        text: `✓ promotion attestation ${result.created ? 'signed and verified' : 'already present'}: ${result.attestationDigest}\n`,
      };
    },
  });
}
