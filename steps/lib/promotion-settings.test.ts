import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForgeError } from './errors.ts';
import { loadPromotionSettings, pick, type PromotionSettings } from './promotion-settings.ts';

/** Names every plain object answers to through its prototype. */
const INHERITED = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf', '__defineGetter__'];

const caught = (fn: () => unknown): ForgeError => {
  try {
    fn();
  } catch (e) {
    return e as ForgeError;
  }
  throw new Error('nothing thrown');
};

describe('pick: setting names are own keys only', () => {
  const map = { default: { threshold: 'HIGH' } };
  it.each(INHERITED)('"%s" names nothing unless configured', (name) => {
    const e = caught(() => pick(map, name, 'scan policy'));
    expect(e).toBeInstanceOf(ForgeError);
    expect(e.format()).toBe(`INVALID_ARGS: unknown scan policy "${name}" (configured: default)`);
  });

  it('finds a configured name, also one that shadows an Object.prototype member', () => {
    expect(pick(map, 'default', 'scan policy')).toEqual({ threshold: 'HIGH' });
    const odd = JSON.parse('{"constructor": {"threshold": "LOW"}}') as Record<string, { threshold: string }>;
    expect(pick(odd, 'constructor', 'scan policy')).toEqual({ threshold: 'LOW' });
  });
});


describe('loadPromotionSettings: scan policy thresholds', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-settings-test-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const load = async (threshold: unknown): Promise<PromotionSettings> => {
    const file = join(dir, `settings-${JSON.stringify(threshold)}.json`);
    const scanPolicy = threshold === undefined ? {} : { threshold };
    await writeFile(
      file,
      JSON.stringify({
        transparencyLog: false,
        verificationKeys: { team: { publicKey } },
        scanPolicies: { default: scanPolicy },
        promotionPolicies: { default: {} },
        attestationPublicKey: { publicKey },
      }),
    );
    return loadPromotionSettings(file);
  };

  it('reads a threshold in any case, and HIGH when none is set', async () => {
    expect((await load('critical')).scanPolicies.default!.threshold).toBe('CRITICAL');
    expect((await load('Low')).scanPolicies.default!.threshold).toBe('LOW');
    expect((await load(undefined)).scanPolicies.default!.threshold).toBe('HIGH');
  });

  it.each([3, null, true, ['HIGH'], 'SEVERE', ''])('refuses the threshold %j, naming the file and the field', async (threshold) => {
    const e = await load(threshold).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ForgeError);
    expect((e as ForgeError).code).toBe('INVALID_CONFIG');
    expect((e as ForgeError).message).toMatch(/^invalid promotion settings .*settings-.*\.json$/);
    expect((e as ForgeError).details).toEqual([expect.objectContaining({ field: 'scanPolicies.default.threshold' })]);
  });
});
