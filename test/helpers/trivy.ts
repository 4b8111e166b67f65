export interface Vuln {
  id: string;
  pkg: string;
  severity: 'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
  installed?: string;
  fixed?: string;
}

/** A Trivy (SchemaVersion 2) image report for an image built in a test, bound to its digest. */
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
