import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ForgeError } from '../steps/lib/errors.ts';
import { imageReference, loadPlatformConfig, parsePlatformConfig } from './platform-config.ts';

const exampleFile = fileURLToPath(new URL('./platform.example.yaml', import.meta.url));
const example = parse(readFileSync(exampleFile, 'utf8')) as Record<string, unknown>;

function rejected(value: unknown): ForgeError {
  try {
    parsePlatformConfig(value, 'platform.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ForgeError);
    return e as ForgeError;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('platform configuration', () => {
  it('accepts the committed example and fills defaults', async () => {
    const config = await loadPlatformConfig(exampleFile);
    expect(config.pipeline.phaseGroupSlots).toBe(6);
    expect(imageReference(config.images.steps)).toBe('registry.example.com/forge/steps:0.1.0');
    const minimal = parsePlatformConfig({
      namespace: 'ci',
      images: { steps: { repository: 'r.example/steps', digest: `sha256:${'a'.repeat(64)}` } },
      registries: { incoming: 'in.example', trusted: 'tr.example', tracking: 'tr.example/t', release: 'tr.example/r' },
    });
    expect(minimal.steps.runAsUser).toBe(65532);
    expect(minimal.serviceAccounts.workflow).toBe('forge-workflow');
    expect(minimal.pools.ci.maxReplicas).toBe(20);
    expect(minimal.pools.dispatcher.resources.limits).toEqual({ cpu: '200m', memory: '256Mi' });
    expect(minimal.artifactRepositoryRef).toBeUndefined();
    expect(imageReference(minimal.images.steps)).toBe(`r.example/steps@sha256:${'a'.repeat(64)}`);
  });

  it.each([
    ['a latest tag', { images: { steps: { repository: 'r.example/steps', tag: 'latest' } } }, 'images.steps.tag', /latest/],
    ['an image without tag or digest', { images: { steps: { repository: 'r.example/steps' } } }, 'images.steps', /tag or a digest/],
    ['a malformed digest', { images: { steps: { repository: 'r.example/steps', digest: 'sha256:abc' } } }, 'images.steps.digest', /64 hexadecimal/],
    ['too many phase-group slots', { pipeline: { phaseGroupSlots: 40 } }, 'pipeline.phaseGroupSlots', /20/],
    ['a misspelled field', { pipeline: { phaseGroupSlot: 4 } }, 'pipeline', /phaseGroupSlot/],
    ['a bad namespace', { namespace: 'Forge_CI' }, 'namespace', /DNS label/],
    ['root as the step user', { steps: { runAsUser: 0 } }, 'steps.runAsUser', /1/],
    ['the same incoming and trusted registry', { registries: { incoming: 'r.example', trusted: 'r.example', tracking: 't', release: 'r' } }, 'registries.trusted', /differ/],
    ['a bad quantity', { steps: { resources: { requests: { cpu: 'lots', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } } }, 'steps.resources.requests.cpu', /quantity/],
  ])('rejects %s, naming the field', (_what, patch, field, message) => {
    const e = rejected({ ...example, ...patch });
    expect(e.code).toBe('INVALID_CONFIG');
    const detail = e.details.find((d) => d.field === field);
    expect(detail, JSON.stringify(e.details)).toBeDefined();
    expect(`${detail!.field} ${detail!.message}`).toMatch(message);
    expect(detail!.file).toBe('platform.yaml');
  });

  describe('verify-and-promote agrees with admission', () => {
    const admission = example.admission as Record<string, unknown>;
    const promotion = example.promotion as Record<string, unknown>;
    const otherPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const withSections = (a: Record<string, unknown>, p: Record<string, unknown>) => ({ ...example, admission: { ...admission, ...a }, promotion: { ...promotion, ...p } });

    it.each([
      [
        'a promotion key admission does not accept',
        withSections({}, { verificationKeys: { developers: { kms: 'gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/someone-else' } } }),
        'promotion.verificationKeys.developers',
        /not admission\.signingKey .* refused at admission/,
      ],
      ['an attestation key admission does not verify with', withSections({}, { attestationPublicKey: { publicKey: otherPem } }), 'promotion.attestationPublicKey', /attestationKey\/additionalAttestationKeys, and this key is not among them/],
      ['a transparency log admission requires but promotion does not write', withSections({ transparencyLog: true }, {}), 'admission.transparencyLog', /not logged/],
      ['a promotion section without a scanner', withSections({}, { scanner: undefined }), 'promotion.scanner', /./],
      [
        "a scanner that is a submitter's image-signing key",
        withSections({}, { scanner: { kms: 'gcpkms://projects/forge-example/locations/global/keyRings/forge/cryptoKeys/image-signer' } }),
        'promotion.scanner',
        /the scanner is the verification key "developers" that submitters sign images with: a submitter could then sign their own scan result/,
      ],
      [
        'the same keyless identity for the scanner and a submitter key',
        withSections({}, { verificationKeys: { ci: { keyless: { identity: 'ci@example.com', issuer: 'https://token.actions.githubusercontent.com' } } }, scanner: { keyless: { identity: 'ci@example.com', issuer: 'https://token.actions.githubusercontent.com' } } }),
        'promotion.scanner',
        /verification key "ci"/,
      ],
      [
        'an admission scanner key other than promotion.scanner',
        withSections({ requireVulnerabilityAttestation: true, scannerKey: { publicKey: otherPem } }, {}),
        'admission.scannerKey',
        /is not promotion\.scanner/,
      ],
    ])('rejects %s', (_what, value, field, message) => {
      const detail = rejected(value).details.find((d) => d.field === field);
      expect(detail?.message).toMatch(message);
    });

    it('accepts a key in rotation, the same key in another PEM layout, and keys it cannot compare (k8s://)', () => {
      const attestationPem = (admission.attestationKey as { publicKey: string }).publicKey;
      const relaid = `-----BEGIN PUBLIC KEY-----\n${attestationPem.replace(/-----[A-Z ]+-----|\s/g, '').replace(/(.{40})/g, '$1\n').trim()}\n-----END PUBLIC KEY-----\n`;
      expect(relaid).not.toBe(attestationPem);
      const config = parsePlatformConfig(
        withSections(
          { additionalSigningKeys: [{ publicKey: otherPem }] },
          { verificationKeys: { next: { publicKey: otherPem }, cluster: { secret: 'k8s://forge/dev-key' } }, attestationPublicKey: { publicKey: relaid } },
        ),
      );
      expect(Object.keys(config.promotion!.verificationKeys)).toEqual(['next', 'cluster']);
    });

    it('does not compare when admission is disabled', () => {
      expect(() => parsePlatformConfig(withSections({ enabled: false, transparencyLog: true }, { attestationPublicKey: { publicKey: otherPem } }))).not.toThrow();
    });
  });

  it('names the file when it is not YAML or does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forge-config-'));
    try {
      await writeFile(join(dir, 'bad.yaml'), 'namespace: [unclosed\n');
      await expect(loadPlatformConfig(join(dir, 'bad.yaml'))).rejects.toThrow(/bad\.yaml is not valid YAML/);
      await expect(loadPlatformConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read platform configuration .*missing\.yaml/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
