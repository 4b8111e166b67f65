/**
 * Suite `security`: test/security/security.ts's rules (non-root, read-only, no capabilities,
 * seccomp, resources, service account, pinned image, no parameters in a shell) on every container
 * of every Argo object of every manifest set.
 */
import { checkSecurity, countContainers, formatFinding, isArgoObject } from '../../security/security.ts';
import { countKinds, fail, pass, type Check, type Suite } from '../suite.ts';

export const securitySuite: Suite = {
  name: 'security',
  description: 'container and service-account rules of test/security/security.ts',
  async run(ctx) {
    const checks: Check[] = [];
    for (const set of ctx.manifestSets) {
      for (const file of set.files) {
        const argo = file.docs.map((d) => d.object).filter(isArgoObject);
        if (argo.length === 0) continue;
        const containers = countContainers(argo);
        const summary = `${countKinds(argo)}, ${containers} container${containers === 1 ? '' : 's'}`;
        const findings = checkSecurity(argo);
        checks.push(findings.length === 0 ? pass('security', file.label, summary) : fail('security', file.label, summary, findings.map(formatFinding)));
      }
    }
    return checks;
  },
};
