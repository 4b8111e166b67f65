import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attestImage } from '../lib/cosign.ts';
import { VULN_PREDICATE_SHORT, vulnPredicate } from '../lib/predicates.ts';
import type { Severity } from '../lib/severity.ts';

export interface Vuln {
  id: string;
  pkg: string;
  severity: Severity;
  installed?: string;
  fixed?: string;
}

/**
 * A Trivy (SchemaVersion 2) image report for an image built here, bound to its digest: Trivy's
 * vulnerability database cannot be downloaded on these machines, so the demo and the tests make the
 * report a scanner would, and `attestScan` signs it as the scanner does.
 */
export function trivyReport(repository: string, digest: string, user: string, vulns: Vuln[] = []): object {
  return {
    SchemaVersion: 2,
    CreatedAt: new Date().toISOString(),
    ArtifactName: `${repository}@${digest}`,
    ArtifactType: 'container_image',
    Metadata: {
      ImageID: `sha256:${'1'.repeat(64)}`,
      RepoTags: [],
      RepoDigests: [`${repository}@${digest}`],
      ImageConfig: { config: { User: user } },
    },
    Results: [
      {
        Target: `${repository}@${digest} (debian 12.8)`,
        Class: 'os-pkgs',
        Type: 'debian',
        Vulnerabilities: vulns.map((v) => ({
          VulnerabilityID: v.id,
          PkgName: v.pkg,
          InstalledVersion: v.installed ?? '1.0.0',
          ...(v.fixed ? { FixedVersion: v.fixed, Status: 'fixed' } : { Status: 'affected' }),
          Severity: v.severity,
          Title: `${v.id} in ${v.pkg}`,
        })),
      },
    ],
  };
}

/**
 * Signs `report` as the image's vulnerability attestation, the way a scanner does it:
 * the cosign-vuln predicate (what `trivy image --format cosign-vuln` writes) attested with the real
 * `cosign attest --type vuln --key <key>`.
 */
export async function attestScan(reference: string, report: object, key: string, opts: { finishedOn?: Date } = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-vuln-'));
  try {
    const file = join(dir, 'vuln.json');
    await writeFile(file, JSON.stringify(vulnPredicate(report, { finishedOn: opts.finishedOn })));
    await attestImage(reference, file, VULN_PREDICATE_SHORT, { key, transparencyLog: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
