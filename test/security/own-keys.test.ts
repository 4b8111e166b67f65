import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { loadPromotionSettings, type promotionSettingsSchema } from '../../steps/lib/promotion-settings.ts';
import { main as policyMain } from '../../steps/policy/cli.ts';
import { main as scanMain } from '../../steps/scan/cli.ts';
import { main as verifyMain } from '../../steps/verify/cli.ts';

const PEM = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEuSpP+zCC3T41AZGk7/6+kyVj+R9z\n8+BJNMQMDiB9K+mBZbMkX+g3AmQvxpCY1eJDgQlaWP4Ssimi2dBkMVTvmQ==\n-----END PUBLIC KEY-----\n';
const INHERITED = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf', '__defineGetter__'];

describe('the step CLIs look names up as own keys', () => {
  let dir: string;
  let settingsFile: string;
  let err = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-settings-'));
    settingsFile = join(dir, 'settings.json');
    const settings: z.input<typeof promotionSettingsSchema> = {
      transparencyLog: false,
      verificationKeys: { developers: { publicKey: PEM } },
      scanPolicies: { default: { threshold: 'HIGH', ignoreUnfixed: false, exceptions: [] } },
      promotionPolicies: { default: { maxSize: '2GiB' } },
      attestationPublicKey: { publicKey: PEM },
      scanner: { publicKey: PEM },
    };
    await writeFile(settingsFile, JSON.stringify(settings));
    expect((await loadPromotionSettings(settingsFile)).scanner).toEqual({ publicKey: PEM });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const run = async (main: (argv: string[]) => Promise<void>, argv: string[]) => {
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
    try {
      await main(argv);
      return process.exitCode;
    } finally {
      vi.restoreAllMocks();
      process.exitCode = undefined;
    }
  };
  const image = `registry.example.com/team/legacy@sha256:${'b'.repeat(64)}`;

  it.each(INHERITED)('forge scan --scan-policy %s is an unknown policy, before any report is read', async (name) => {
    const blocked = join(import.meta.dirname, '../fixtures/trivy/high-critical.json');
    expect(await run(scanMain, ['--image', image, '--scan-policy', name, '--settings', settingsFile, '--unverified-scan-report', blocked])).toBe(2);
    expect(err).toContain(`INVALID_ARGS: unknown scan policy "${name}" (configured: default)`);
    expect(err).not.toContain('PASSED');
  });


  it.each(INHERITED)('forge verify --verification-key %s is an unknown key', async (name) => {
    expect(await run(verifyMain, ['--image', image, '--verification-key', name, '--settings', settingsFile])).toBe(2);
    expect(err).toContain(`INVALID_ARGS: unknown verification key "${name}" (configured: developers)`);
  });

  it.each(INHERITED)('forge policy --promotion-policy %s is an unknown policy', async (name) => {
    const info = JSON.stringify({ requested: image, repository: 'registry.example.com/team/legacy', digest: `sha256:${'b'.repeat(64)}`, reference: image, mediaType: '', index: false, platforms: [] });
    expect(await run(policyMain, ['--image-info', info, '--promotion-policy', name, '--settings', settingsFile])).toBe(2);
    expect(err).toContain(`INVALID_ARGS: unknown promotion policy "${name}" (configured: default)`);
  });
});
