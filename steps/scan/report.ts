/**
 * The parts of a Trivy JSON report (`trivy image --format json`, SchemaVersion 2) the scan gate
 * reads. Trivy marks almost every field `omitempty`: a clean image has Results without
 * Vulnerabilities, or no Results at all, so missing (or null) lists are read as empty. Fields the
 * gate does not use are dropped.
 */
import { readInputFile } from '../lib/input-file.ts';
import { z } from 'zod';
import { ForgeError } from '../lib/errors.ts';
import { SEVERITIES, type Severity } from '../lib/severity.ts';


/** A list Trivy may omit or write as null: read as empty. */
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

const optionalString = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

/** Severity strings Trivy does not define (none today) are treated as UNKNOWN, never dropped. */
const severity = z
  .string()
  .nullish()
  .transform((v): Severity => {
    const s = v?.toUpperCase();
    return (SEVERITIES as readonly (string | undefined)[]).includes(s) ? (s as Severity) : 'UNKNOWN';
  });

export const vulnerabilitySchema = z.object({
  VulnerabilityID: z.string().min(1),
  VendorIDs: list(z.string()),
  PkgName: z.string().default(''),
  InstalledVersion: z.string().default(''),
  FixedVersion: optionalString,
  Status: optionalString,
  Severity: severity,
  Title: optionalString,
});

export const resultSchema = z.object({
  Target: z.string().default(''),
  Class: optionalString,
  Type: optionalString,
  Vulnerabilities: list(vulnerabilitySchema),
});

const metadataSchema = z.object({
  ImageID: optionalString,
  RepoDigests: list(z.string()),
  RepoTags: list(z.string()),
  ImageConfig: z
    .object({
      config: z
        .object({ User: optionalString })
        .nullish()
        .transform((v) => v ?? undefined),
    })
    .nullish()
    .transform((v) => v ?? undefined),
  Size: z
    .number()
    .nullish()
    .transform((v) => v ?? undefined),
});

export const trivyReportSchema = z.object({
  SchemaVersion: z.number().int(),
  ArtifactName: z.string().default(''),
  ArtifactType: optionalString,
  Metadata: z.preprocess((v) => v ?? {}, metadataSchema),
  Results: list(resultSchema),
});

export type TrivyReport = z.infer<typeof trivyReportSchema>;
export type TrivyResult = z.infer<typeof resultSchema>;
export type TrivyVulnerability = z.infer<typeof vulnerabilitySchema>;

/** The report kind the gate accepts (`trivy image`); `vm`, `filesystem`, `repository` are refused. */
export const IMAGE_ARTIFACT_TYPE = 'container_image';

/**
 * Parses and validates a Trivy JSON report. `file` names the report in errors (a path, or
 * `trivy image <ref>` when the report came from running trivy).
 */
export function parseTrivyReport(json: string, file: string): TrivyReport {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ForgeError('INVALID_ARGS', `${file} is not valid JSON: ${(e as Error).message}`, [
      { file, message: 'expected a Trivy JSON report (`trivy image --format json --output <file> <image>`)' },
    ]);
  }
  // An array (a SARIF run list, say) has no SchemaVersion key either.
  if (typeof raw !== 'object' || raw === null || !('SchemaVersion' in raw)) {
    throw new ForgeError('INVALID_ARGS', `${file} is not a Trivy JSON report (no SchemaVersion)`, [
      { file, message: 'produce it with `trivy image --format json` (table, SARIF, CycloneDX and cosign-vuln formats are not read)' },
    ]);
  }
  const version = (raw as { SchemaVersion: unknown }).SchemaVersion;
  if (version !== 2) {
    throw new ForgeError('INVALID_ARGS', `${file} has Trivy report SchemaVersion ${JSON.stringify(version)}; only SchemaVersion 2 is read`, [
      { file, field: 'SchemaVersion', message: 'regenerate the report with a current trivy (SchemaVersion 2 since v0.20)' },
    ]);
  }
  const parsed = trivyReportSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ForgeError(
      'INVALID_ARGS',
      `${file} does not have the shape of a Trivy JSON report`,
      parsed.error.issues.map((i) => ({ file, field: i.path.join('.'), message: i.message })),
    );
  }
  const report = parsed.data;
  if (report.ArtifactType !== IMAGE_ARTIFACT_TYPE) {
    const kind = report.ArtifactType ? `a "${report.ArtifactType}" report` : 'a report without ArtifactType';
    throw new ForgeError(
      'INVALID_ARGS',
      `${file} is not an image report: it is ${kind} of ${report.ArtifactName || '(unnamed artifact)'}, ` +
        `and the scan gate only accepts ArtifactType "${IMAGE_ARTIFACT_TYPE}"`,
      [{ file, field: 'ArtifactType', message: 'scan the container image itself: `trivy image --format json <image>@<digest>`' }],
    );
  }
  return report;
}

/** The image's configured user (`Metadata.ImageConfig.config.User`); undefined when not set. */
export function imageUser(report: TrivyReport): string | undefined {
  return report.Metadata.ImageConfig?.config?.User;
}

/** Whether the report carries the image config at all (without it, the user is unknown, not root). */
export function hasImageConfig(report: TrivyReport): boolean {
  return report.Metadata.ImageConfig?.config !== undefined;
}

/**
 * A Trivy report from a local file. Nobody vouches for such a file: only `forge scan`/`forge promote`
 * on a laptop read one, behind --unverified-scan-report (steps/scan/source.ts). No URL is fetched.
 */
export async function readReport(file: string): Promise<TrivyReport> {
  return parseTrivyReport(await readInputFile(file, 'the Trivy report', '--unverified-scan-report'), file);
}
