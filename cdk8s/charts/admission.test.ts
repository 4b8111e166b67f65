import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App } from 'cdk8s';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ForgeError } from '../../steps/lib/errors.ts';
import { buildApp } from '../app.ts';
import { parsePlatformConfig, type PlatformConfig } from '../platform-config.ts';
import {
  AdmissionChart,
  admissionObjects,
  namespaceRegex,
  PROMOTION_PREDICATE_TYPE,
  VULN_PREDICATE_TYPE,
  type ClusterPolicy,
  type ImageValidatingPolicy,
  type ValidatingPolicy,
} from './admission.ts';

const example = parse(readFileSync(fileURLToPath(new URL('../platform.example.yaml', import.meta.url)), 'utf8')) as Record<string, unknown> & {
  admission: Record<string, unknown>;
};
const TRUSTED = 'trusted.registry.example.com/forge';
const KMS = 'gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/image-signer';
const pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PEM = pem();

/**
 * The example configuration with `admission` replaced by the example's section merged with
 * `patch`, and without `promotion`: the keys here vary freely, and the check that promotion
 * agrees with admission has its own tests (cdk8s/platform-config.test.ts).
 */
function config(patch: Record<string, unknown> = {}): PlatformConfig {
  return parsePlatformConfig({ ...example, promotion: undefined, admission: { ...example.admission, ...patch } }, 'platform.yaml');
}

function celForm(c: PlatformConfig): { vpol: ValidatingPolicy; ivpol: ImageValidatingPolicy } {
  const objects = admissionObjects(c);
  expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(['policies.kyverno.io/v1 ValidatingPolicy', 'policies.kyverno.io/v1 ImageValidatingPolicy']);
  return { vpol: objects[0] as ValidatingPolicy, ivpol: objects[1] as ImageValidatingPolicy };
}

function clusterForm(c: PlatformConfig): ClusterPolicy {
  const objects = admissionObjects(c);
  expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(['kyverno.io/v1 ClusterPolicy']);
  return objects[0] as ClusterPolicy;
}

function rejected(patch: Record<string, unknown>): ForgeError {
  try {
    config(patch);
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('admission policy: ImageValidatingPolicy form (default)', () => {
  it('restricts every image to the trusted registry and a sha256 digest', () => {
    const { vpol } = celForm(config());
    const [registry, digest] = vpol.spec.validations;
    expect(registry!.expression).toContain(`image.startsWith('${TRUSTED}/')`);
    expect(registry!.messageExpression).toContain(TRUSTED);
    expect(digest!.expression).toContain("image.matches('@sha256:[0-9a-f]{64}$')");
    // containers, init containers and ephemeral containers all count
    const allImages = vpol.spec.variables.find((v) => v.name === 'allImages')!.expression;
    for (const field of ['containers', 'initContainers', 'ephemeralContainers']) expect(allImages).toContain(`object.spec.${field}.map(c, c.image)`);
    expect(vpol.spec.matchConstraints.resourceRules[0]!.resources).toEqual(['pods', 'pods/ephemeralcontainers']);
    // the digest expression is plain RE2 that JavaScript reads the same way
    const re = new RegExp('@sha256:[0-9a-f]{64}$');
    expect(re.test(`${TRUSTED}/app@sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(re.test(`${TRUSTED}/app:1.0`)).toBe(false);
    expect(re.test(`${TRUSTED}/app@sha256:${'a'.repeat(63)}`)).toBe(false);
  });

  it('verifies the signature with the configured key (KMS URI or inline PEM), limited to trusted images', () => {
    const { ivpol } = celForm(config({ requirePromotionAttestation: false, attestationKey: undefined }));
    expect(ivpol.spec.matchImageReferences).toEqual([{ glob: `${TRUSTED}/*` }]);
    expect(ivpol.spec.validationConfigurations).toEqual({ mutateDigest: false, verifyDigest: true, required: true });
    expect(ivpol.spec.attestors).toEqual([
      { name: 'signingKey0', cosign: { key: { kms: (example.admission.signingKey as { kms: string }).kms }, ctlog: { insecureIgnoreTlog: true, insecureIgnoreSCT: true } } },
    ]);
    expect(ivpol.spec.validations).toHaveLength(1);
    expect(ivpol.spec.validations[0]!.expression).toBe(
      '(images.containers + images.initContainers + images.ephemeralContainers).all(image, verifyImageSignatures(image, [attestors.signingKey0]) > 0)',
    );
    expect(ivpol.spec.attestations).toBeUndefined();

    const withPem = celForm(config({ signingKey: { publicKey: PEM }, requirePromotionAttestation: false })).ivpol;
    expect(withPem.spec.attestors[0]!.cosign.key).toEqual({ data: PEM.trim() });
  });

  it('requires the promotion attestation, signed by the attestation key, only when configured', () => {
    const { ivpol } = celForm(config());
    expect(ivpol.spec.attestations).toEqual([{ name: 'promotion', intoto: { type: PROMOTION_PREDICATE_TYPE } }]);
    expect(ivpol.spec.attestors.map((a) => a.name)).toEqual(['signingKey0', 'attestationKey0']);
    expect(ivpol.spec.attestors[1]!.cosign.key).toEqual({ data: (example.admission.attestationKey as { publicKey: string }).publicKey.trim() });
    expect(ivpol.spec.validations[1]!.expression).toContain('verifyAttestationSignatures(image, attestations.promotion, [attestors.attestationKey0]) > 0');

    // without attestationKey the signing key signs attestations too
    const sameKey = celForm(config({ attestationKey: undefined })).ivpol;
    expect(sameKey.spec.attestors.map((a) => a.name)).toEqual(['signingKey0']);
    expect(sameKey.spec.validations[1]!.expression).toContain('attestations.promotion, [attestors.signingKey0]');

    const off = celForm(config({ requirePromotionAttestation: false })).ivpol;
    expect(off.spec.attestations).toBeUndefined();
    expect(JSON.stringify(off)).not.toContain('verifyAttestationSignatures');
    expect(off.spec.attestors.map((a) => a.name)).toEqual(['signingKey0']);
  });

  it('accepts any of several keys during a rotation', () => {
    const next = pem();
    const { ivpol } = celForm(config({ additionalSigningKeys: [{ publicKey: next }], attestationKey: { publicKey: PEM }, additionalAttestationKeys: [{ kms: KMS }] }));
    expect(ivpol.spec.attestors.map((a) => a.name)).toEqual(['signingKey0', 'signingKey1', 'attestationKey0', 'attestationKey1']);
    expect(ivpol.spec.validations[0]!.expression).toContain('[attestors.signingKey0, attestors.signingKey1]) > 0');
    expect(ivpol.spec.validations[1]!.expression).toContain('[attestors.attestationKey0, attestors.attestationKey1]) > 0');
  });

  it('scopes both policies to the configured namespaces (names and globs)', () => {
    const { vpol, ivpol } = celForm(config({ namespaces: ['project-*', 'team-?', 'billing'] }));
    for (const p of [vpol, ivpol]) {
      expect(p.spec.matchConditions).toEqual([{ name: 'forge-namespaces', expression: "request.namespace.matches('^(project-.*|team-.|billing)$')" }]);
    }
    const re = new RegExp(namespaceRegex(['project-*', 'team-?', 'billing']));
    for (const ns of ['project-a', 'project-', 'team-x', 'billing']) expect(re.test(ns), ns).toBe(true);
    for (const ns of ['kube-system', 'team-xy', 'billing-2', 'my-project-a']) expect(re.test(ns), ns).toBe(false);
    // default
    expect(celForm(config({ namespaces: undefined })).vpol.spec.matchConditions[0]!.expression).toBe("request.namespace.matches('^(project-.*)$')");
  });

  it('maps the mode to validationActions (Enforce → Deny, Audit → Audit + Warn)', () => {
    const enforce = celForm(config({ mode: 'Enforce' }));
    expect(enforce.vpol.spec.validationActions).toEqual(['Deny']);
    expect(enforce.ivpol.spec.validationActions).toEqual(['Deny']);
    const audit = celForm(config({ mode: 'Audit' }));
    expect(audit.vpol.spec.validationActions).toEqual(['Audit', 'Warn']);
    expect(audit.ivpol.spec.validationActions).toEqual(['Audit', 'Warn']);
    expect(celForm(config({ mode: undefined })).ivpol.spec.validationActions).toEqual(['Deny']);
  });

  it('states the transparency-log setting explicitly', () => {
    for (const a of celForm(config({ transparencyLog: false })).ivpol.spec.attestors) expect(a.cosign.ctlog).toEqual({ insecureIgnoreTlog: true, insecureIgnoreSCT: true });
    for (const a of celForm(config({ transparencyLog: true })).ivpol.spec.attestors) expect(a.cosign.ctlog).toEqual({ insecureIgnoreTlog: false, insecureIgnoreSCT: false });
    expect(celForm(config({ transparencyLog: undefined })).ivpol.spec.attestors[0]!.cosign.ctlog.insecureIgnoreTlog).toBe(true);
  });
});

describe('admission policy: ClusterPolicy form', () => {
  it('restricts images by pattern, including init and ephemeral containers', () => {
    const cp = clusterForm(config({ kind: 'ClusterPolicy', namespaces: ['project-*', 'billing'] }));
    const [registry] = cp.spec.rules;
    expect(registry!.name).toBe('trusted-registry-and-digest');
    const image = [{ image: `${TRUSTED}/*@sha256:*` }];
    expect(registry!.validate!.pattern.spec).toEqual({ containers: image, '=(initContainers)': image, '=(ephemeralContainers)': image });
    for (const rule of cp.spec.rules) {
      expect(rule.match).toEqual({ any: [{ resources: { kinds: ['Pod', 'Pod/ephemeralcontainers'], namespaces: ['project-*', 'billing'] } }] });
    }
    expect(cp.spec.background).toBe(false);
    expect(cp.spec.failurePolicy).toBe('Fail');
  });

  it('verifies the signature and, when required, the promotion attestation with static keys', () => {
    const cp = clusterForm(config({ kind: 'ClusterPolicy' }));
    expect(cp.spec.rules.map((r) => r.name)).toEqual(['trusted-registry-and-digest', 'verify-signature', 'verify-promotion-attestation']);
    const sig = cp.spec.rules[1]!.verifyImages![0]!;
    expect(sig).toMatchObject({ imageReferences: [`${TRUSTED}/*`], type: 'Cosign', mutateDigest: false, verifyDigest: true, required: true });
    expect(sig.attestors).toEqual([
      {
        count: 1,
        entries: [
          {
            keys: {
              kms: (example.admission.signingKey as { kms: string }).kms,
              rekor: { url: 'https://rekor.sigstore.dev', ignoreTlog: true },
              ctlog: { ignoreSCT: true },
            },
          },
        ],
      },
    ]);
    const att = cp.spec.rules[2]!.verifyImages![0]!;
    expect(att.attestations).toHaveLength(1);
    expect(att.attestations![0]!.type).toBe(PROMOTION_PREDICATE_TYPE);
    expect(att.attestations![0]!.attestors[0]!.entries[0]!.keys).toMatchObject({
      publicKeys: (example.admission.attestationKey as { publicKey: string }).publicKey.trim(),
    });

    const off = clusterForm(config({ kind: 'ClusterPolicy', requirePromotionAttestation: false }));
    expect(off.spec.rules.map((r) => r.name)).toEqual(['trusted-registry-and-digest', 'verify-signature']);
  });

  it('maps the mode, the transparency log and rotation keys', () => {
    expect(clusterForm(config({ kind: 'ClusterPolicy' })).spec.validationFailureAction).toBe('Enforce');
    expect(clusterForm(config({ kind: 'ClusterPolicy', mode: 'Audit' })).spec.validationFailureAction).toBe('Audit');
    const tlog = clusterForm(config({ kind: 'ClusterPolicy', transparencyLog: true }));
    expect(tlog.spec.rules[1]!.verifyImages![0]!.attestors![0]!.entries[0]!.keys).toMatchObject({ rekor: { ignoreTlog: false }, ctlog: { ignoreSCT: false } });
    const rotating = clusterForm(config({ kind: 'ClusterPolicy', additionalSigningKeys: [{ publicKey: PEM }] }));
    const set = rotating.spec.rules[1]!.verifyImages![0]!.attestors![0]!;
    expect(set.count).toBe(1);
    expect(set.entries.map((e) => Object.keys(e.keys).filter((k) => k === 'kms' || k === 'publicKeys'))).toEqual([['kms'], ['publicKeys']]);
  });
});

describe('admission chart', () => {
  it('synthesizes cluster-scoped objects with the standard labels', () => {
    const app = new App();
    const chart = new AdmissionChart(app, 'admission', config());
    const objects = chart.toJson() as Array<{ kind: string; metadata: { name: string; namespace?: string; labels: Record<string, string> } }>;
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ValidatingPolicy/forge-trusted-registry', 'ImageValidatingPolicy/forge-image-signatures']);
    for (const o of objects) {
      expect(o.metadata.namespace).toBeUndefined();
      expect(o.metadata.labels['app.kubernetes.io/component']).toBe('admission');
    }
  });

  it('emits nothing when disabled or when the section is absent', () => {
    expect(admissionObjects(config({ enabled: false }))).toEqual([]);
    expect(buildApp(config({ enabled: false }), '/nonexistent').charts.map((c) => c.node.id)).not.toContain('admission');
    const { admission: _omit, ...withoutSection } = example;
    const bare = parsePlatformConfig(withoutSection);
    expect(bare.admission).toBeUndefined();
    expect(admissionObjects(bare)).toEqual([]);
    expect(buildApp(config(), '/nonexistent').charts.map((c) => c.node.id)).toContain('admission');
  });

  it('fills the defaults', () => {
    const c = parsePlatformConfig({ ...example, promotion: undefined, admission: { signingKey: { kms: KMS } } });
    expect(c.admission).toEqual({
      enabled: true,
      kind: 'ImageValidatingPolicy',
      namespaces: ['project-*'],
      mode: 'Enforce',
      signingKey: { kms: KMS },
      additionalSigningKeys: [],
      requirePromotionAttestation: true,
      additionalAttestationKeys: [],
      requireVulnerabilityAttestation: false,
      transparencyLog: false,
    });
  });
});

describe('admission policy: the vulnerability attestation by the scanner (optional)', () => {
  const SCANNER = pem();
  it('is off by default: no scanner attestor, no vulnerability attestation in either form', () => {
    const { ivpol } = celForm(config());
    expect(ivpol.spec.attestors.map((a) => a.name)).not.toContain('scannerKey');
    expect(JSON.stringify(ivpol)).not.toContain(VULN_PREDICATE_TYPE);
    expect(JSON.stringify(clusterForm(config({ kind: 'ClusterPolicy' })))).not.toContain(VULN_PREDICATE_TYPE);
  });

  it('ImageValidatingPolicy: requires it on every trusted image, signed by the scanner key only', () => {
    const { ivpol } = celForm(config({ requireVulnerabilityAttestation: true, scannerKey: { publicKey: SCANNER } }));
    expect(ivpol.spec.attestations).toEqual([
      { name: 'promotion', intoto: { type: PROMOTION_PREDICATE_TYPE } },
      { name: 'vulnerabilities', intoto: { type: VULN_PREDICATE_TYPE } },
    ]);
    expect(ivpol.spec.attestors.find((a) => a.name === 'scannerKey')).toEqual({
      name: 'scannerKey',
      cosign: { key: { data: SCANNER.trim() }, ctlog: { insecureIgnoreTlog: true, insecureIgnoreSCT: true } },
    });
    const rule = ivpol.spec.validations.find((v) => v.expression.includes('attestations.vulnerabilities'))!;
    expect(rule.expression).toBe('(images.containers + images.initContainers + images.ephemeralContainers).all(image, verifyAttestationSignatures(image, attestations.vulnerabilities, [attestors.scannerKey]) > 0)');
    expect(rule.message).toBe(`every image from ${TRUSTED}/ must carry the vulnerability attestation (${VULN_PREDICATE_TYPE}) signed by the platform scanner`);
  });

  it('ClusterPolicy: a verify-vulnerability-attestation rule with the scanner key', () => {
    const cp = clusterForm(config({ kind: 'ClusterPolicy', requireVulnerabilityAttestation: true, scannerKey: { kms: KMS.replace('image-signer', 'scanner') } }));
    expect(cp.spec.rules.map((r) => r.name)).toEqual(['trusted-registry-and-digest', 'verify-signature', 'verify-promotion-attestation', 'verify-vulnerability-attestation']);
    const v = cp.spec.rules[3]!.verifyImages![0]!;
    expect(v).toMatchObject({ imageReferences: [`${TRUSTED}/*`], verifyDigest: true, required: true, mutateDigest: false });
    expect(v.attestations).toEqual([
      { type: VULN_PREDICATE_TYPE, attestors: [{ count: 1, entries: [{ keys: { kms: KMS.replace('image-signer', 'scanner'), rekor: { url: 'https://rekor.sigstore.dev', ignoreTlog: true }, ctlog: { ignoreSCT: true } } }] }] },
    ]);
  });

  it('needs scannerKey, and must name the same scanner as promotion.scanner', () => {
    expect(rejected({ requireVulnerabilityAttestation: true, scannerKey: undefined }).details).toContainEqual(expect.objectContaining({ field: 'admission.scannerKey', message: expect.stringMatching(/needs scannerKey/) }));
  });
});

describe('admission configuration errors name the field', () => {
  it.each([
    ['both publicKey and kms', { signingKey: { publicKey: PEM, kms: KMS } }, 'admission.signingKey', /publicKey or kms, not both/],
    ['neither publicKey nor kms', { signingKey: {} }, 'admission.signingKey', /set publicKey .* or kms/],
    ['no signing key', { signingKey: undefined }, 'admission.signingKey', /./],
    ['a malformed PEM', { signingKey: { publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----' } }, 'admission.signingKey.publicKey', /PEM public key/],
    ['a private key', { signingKey: { publicKey: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----' } }, 'admission.signingKey.publicKey', /PEM public key/],
    ['an unknown KMS scheme', { attestationKey: { kms: 'kms://somewhere/key' } }, 'admission.attestationKey.kms', /gcpkms/],
    ['both keys in a rotation entry', { additionalSigningKeys: [{ publicKey: PEM, kms: KMS }] }, 'admission.additionalSigningKeys.0', /not both/],
    ['attestation rotation keys without attestationKey', { attestationKey: undefined, additionalAttestationKeys: [{ kms: KMS }] }, 'admission.additionalAttestationKeys', /needs attestationKey/],
    ['a bad namespace glob', { namespaces: ['Project_*'] }, 'admission.namespaces.0', /namespace name or a glob/],
    ['no namespaces', { namespaces: [] }, 'admission.namespaces', /at least one namespace/],
    ['an unknown kind', { kind: 'Policy' }, 'admission.kind', /ImageValidatingPolicy/],
    ['an unknown mode', { mode: 'Warn' }, 'admission.mode', /Enforce/],
    ['a misspelled field', { transparencylog: false }, 'admission', /transparencylog/],
  ])('rejects %s', (_what, patch, field, message) => {
    const e = rejected(patch);
    expect(e.code).toBe('INVALID_CONFIG');
    const detail = e.details.find((d) => d.field === field);
    expect(detail, JSON.stringify(e.details)).toBeDefined();
    expect(`${detail!.field} ${detail!.message}`).toMatch(message);
  });
});
