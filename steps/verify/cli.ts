import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, pinnedImage, stepMain, transparencyLogFlag } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { cosignKeyRef, loadPromotionSettings, pick, SETTINGS_FILE, verifierFor } from '../lib/promotion-settings.ts';
import { verifySignature, type VerifyPolicy } from './verify.ts';

export const usage = `Usage: forge verify --image REPO@sha256:… (--key REF | --identity ID --issuer URL) --transparency-log true|false

Verifies the image's cosign signature (legacy .sig layout) with the real cosign.
  --key REF               public key file, k8s://<namespace>/<secret> (holding only cosign.pub), or a KMS URI
  --identity, --issuer    keyless: certificate identity and OIDC issuer
  --transparency-log      required: false when there is no Rekor (verification then says so)
  --verification-key NAME instead of the above: a key of the promotion settings (--settings FILE,
                          default ${SETTINGS_FILE}), with the platform's transparency-log setting
`;

const schema = z.object({
  image: pinnedImage,
  key: z.string().optional(),
  identity: z.string().optional(),
  issuer: z.string().optional(),
  'transparency-log': transparencyLogFlag.optional(),
  'verification-key': z.string().optional(),
  settings: z.string().optional(),
  ...commonSchema,
});

/** The verification policy from explicit flags, or from a named key of the promotion settings. */
async function verifyPolicy(v: z.infer<typeof schema>): Promise<VerifyPolicy> {
  if (v['verification-key']) {
    const settings = await loadPromotionSettings(v.settings);
    const key = pick(settings.verificationKeys, v['verification-key'], 'verification key');
    return verifierFor(v['verification-key'], key, settings.transparencyLog);
  }
  if (!v['transparency-log']) throw new ForgeError('INVALID_ARGS', '--transparency-log must be set explicitly to true or false');
  if (!v.key && !(v.identity && v.issuer)) throw new ForgeError('INVALID_ARGS', 'give --key, or --identity with --issuer, or --verification-key');
  return {
    // A k8s:// key goes through the same public-only reader as a configured one (never cosign's own).
    key: v.key?.startsWith('k8s://') ? await cosignKeyRef({ secret: v.key }) : v.key,
    keyless: v.identity && v.issuer ? { identity: v.identity, issuer: v.issuer } : undefined,
    transparencyLog: v['transparency-log'] === 'true',
  };
}

export function main(argv: string[]): Promise<void> {
  return stepMain(argv, {
    tool: 'verify',
    usage,
    schema,
    async run(v) {
      const verified = await verifySignature(v.image, await verifyPolicy(v));
      return {
        result: verified,
        outputs: outputFiles('verify', { signer: verified.signer }),
        text: `✓ ${v.image} signed by ${verified.signer} (${verified.signatures} signature(s)${verified.transparencyLog ? '' : ', no transparency log'})\n`,
      };
    },
  });
}
