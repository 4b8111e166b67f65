import { z } from 'zod';
import { outputFiles } from '../lib/contract.ts';
import { commonSchema, stepMain, transparencyLogFlag } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { PromotionRecords } from '../lib/records/records.ts';
import { DEFAULT_MAX_COMPRESSED_BYTES, formatBytes, parseSize } from '../policy/policy.ts';
import { inArgo } from '../lib/argo-io.ts';
import { loadExceptions } from '../lib/scan-exceptions.ts';
import { DEFAULT_THRESHOLD, severitySchema } from '../lib/severity.ts';
import type { ScanSource } from '../scan/source.ts';
import { promote, type StepReport } from './promote.ts';

export const usage = `Usage: forge promote IMAGE --incoming PREFIX --trusted PREFIX --key PUB --scanner-key PUB
                     --promotion-key KEY --promotion-pub PUB --transparency-log true|false [options]

Runs verify-and-promote without a cluster: resolve, then verify, scan and policy together, then
promote (copy) → attest → record, printing each step. IMAGE must be under the incoming prefix; it is copied to the same
path under the trusted prefix.

  --incoming PREFIX        <registry>/<path> developers push to
  --trusted PREFIX         <registry>/<path> only this command writes
  --key REF                signature key: file, k8s://<ns>/<secret>, or KMS URI
  --identity ID --issuer URL   keyless signatures instead of --key
  --transparency-log B     required: false when there is no Rekor
  --scanner-key REF        the scan result is the image's vulnerability attestation (cosign attest
                           --type vuln), verified with this scanner key (file, k8s://, KMS URI)
  --scanner-identity ID --scanner-issuer URL   or a keyless scanner identity
  --unverified-scan-report FILE
                           instead: a Trivy JSON report file nobody signed (laptop only; a loud
                           warning every time, refused inside Argo, marked UNVERIFIED in the records)
  --exceptions FILE        vulnerability exceptions (YAML/JSON: id, reason, expires)
  --threshold SEVERITY     lowest blocking severity (default HIGH)
  --ignore-unfixed         let vulnerabilities without a fix through
  --max-size SIZE          compressed size limit per platform (default ${formatBytes(DEFAULT_MAX_COMPRESSED_BYTES)})
  --promotion-key KEY      signs the promotion attestation (password in COSIGN_PASSWORD)
  --promotion-pub PUB      verifies it
  --database-url URL       PostgreSQL for the records, as the runtime role: its schema must
                           have been migrated (forge records migrate); never printed
                           (default: embedded PGlite in --state-dir, migrated on open)
  --state-dir DIR          state directory; records in DIR/records (default FORGE_STATE_DIR or
                           ~/.local/state/forge-workflows)
  --json                   print the result as JSON
`;

const schema = z.object({
  incoming: z.string().min(1),
  trusted: z.string().min(1),
  key: z.string().optional(),
  identity: z.string().optional(),
  issuer: z.string().optional(),
  'transparency-log': transparencyLogFlag,
  'scanner-key': z.string().min(1).optional(),
  'scanner-identity': z.string().min(1).optional(),
  'scanner-issuer': z.string().min(1).optional(),
  'unverified-scan-report': z.string().min(1).optional(),
  exceptions: z.string().optional(),
  threshold: severitySchema.default(DEFAULT_THRESHOLD),
  'ignore-unfixed': z.boolean().default(false),
  'max-size': z.string().optional(),
  'promotion-key': z.string().min(1),
  'promotion-pub': z.string().min(1),
  'database-url': z.string().optional(),
  'state-dir': z.string().optional(),
  json: z.boolean().optional(),
  ...commonSchema,
});

/** Exactly one scan source: a scanner key or identity (the attestation), or the unverified file. */
function scanSource(v: z.infer<typeof schema>, transparencyLog: boolean): ScanSource {
  const given = [v['scanner-key'], v['scanner-identity'], v['unverified-scan-report']].filter(Boolean).length;
  if (given !== 1) {
    throw new ForgeError('INVALID_ARGS', 'give exactly one scan source: --scanner-key REF or --scanner-identity ID --scanner-issuer URL (the vulnerability attestation), or --unverified-scan-report FILE (laptop only)');
  }
  if (v['unverified-scan-report']) {
    if (inArgo()) throw new ForgeError('INVALID_ARGS', '--unverified-scan-report is refused inside Argo: only vulnerability attestations signed by the platform scanner are trusted there');
    return { kind: 'unverified-report', file: v['unverified-scan-report'] };
  }
  if (v['scanner-key']) return { kind: 'attestation', scanner: { key: v['scanner-key'], transparencyLog, label: v['scanner-key'] } };
  if (!v['scanner-issuer']) throw new ForgeError('INVALID_ARGS', '--scanner-identity needs --scanner-issuer');
  const keyless = { identity: v['scanner-identity']!, issuer: v['scanner-issuer'] };
  return { kind: 'attestation', scanner: { keyless, transparencyLog, label: `${keyless.identity} (${keyless.issuer})` } };
}

const line = (s: StepReport) => `${s.ok ? '✓' : '✗'} ${s.step.padEnd(8)} ${s.summary}  (${s.ms} ms)\n`;

export function main(argv: string[]): Promise<void> {
  if (argv.includes('--json')) argv = [...argv.filter((a) => a !== '--json'), '--output', 'json'];
  return stepMain(argv, {
    tool: 'promote',
    usage,
    schema,
    async run(v, positionals) {
      const image = positionals[0];
      if (!image) throw new ForgeError('INVALID_ARGS', 'give the image to promote: forge promote <image> …');
      const transparencyLog = v['transparency-log'] === 'true';
      const db = await openDatabase(v['database-url'] ? { url: v['database-url'] } : { dataDir: defaultDataDir(v['state-dir']) });
      const text = v.output !== 'json';
      try {
        const result = await promote(
          image,
          {
            incoming: v.incoming,
            trusted: v.trusted,
            verify: { key: v.key, keyless: v.identity && v.issuer ? { identity: v.identity, issuer: v.issuer } : undefined, transparencyLog },
            scanSource: scanSource(v, transparencyLog),
            scan: { threshold: v.threshold, ignoreUnfixed: v['ignore-unfixed'], exceptions: v.exceptions ? await loadExceptions(v.exceptions) : [] },
            policy: { maxCompressedBytes: v['max-size'] ? parseSize(v['max-size']) : DEFAULT_MAX_COMPRESSED_BYTES },
            attest: { key: v['promotion-key'], password: process.env.COSIGN_PASSWORD, verifyKey: v['promotion-pub'] },
            workflow: { name: process.env.ARGO_WORKFLOW_NAME ?? 'local', uid: process.env.ARGO_WORKFLOW_UID ?? '' },
          },
          new PromotionRecords(db),
          (s) => text && process.stdout.write(line(s)),
        );
        return {
          result,
          outputs: {
            ...outputFiles('copy', { 'trusted-reference': result.trustedReference }),
            ...outputFiles('attest', { 'attestation-digest': result.attestationDigest }),
            ...outputFiles('record', { 'record-id': result.recordId }),
          },
          text: `\npromoted ${result.trustedReference}\nattestation ${result.attestationDigest}\nrecord ${result.recordId}${result.created ? '' : ' (already promoted)'}\n`,
        };
      } finally {
        await db.close();
      }
    },
  });
}
