import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, buildImageWithFiles, describe as describeManifest, pushAttestationManifest, pushIndex } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { crane } from '../lib/crane.ts';
import { openDatabase } from '../lib/records/db.ts';
import { PromotionRecords } from '../lib/records/records.ts';
import { evaluatePolicy } from '../policy/policy.ts';
import { promote } from '../promote/promote.ts';
import { resolveImage, trustedRepositoryFor } from './resolve.ts';
import { startTrap, type Trap } from '../../test/helpers/trap.ts';

/** resolve against a real registry: what it reads is what the policy gate checks. */
let registry: Registry;
let counter = 0;
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
const policy = { maxCompressedBytes: 10 * 1024 * 1024 };
const repo = () => `${registry.host}/team/app-${++counter}`;

let work: string;
beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-resolve-test-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const failed = (checks: { passed: boolean; check: string; actual: string; platform?: string }[]) =>
  checks.filter((c) => !c.passed).map((c) => `${c.check}${c.platform ? ` (${c.platform})` : ''}: ${c.actual}`);

describe('the incoming boundary is checked before any registry is contacted', () => {
  let trap: Trap;
  let trapHost = '';
  beforeAll(async () => {
    trap = await startTrap();
    trapHost = trap.host;
  });
  afterAll(() => trap.close());

  it.each([
    [(h: string) => `${h}/other/app:1`, /is not in the incoming registry .*\/team: only images pushed there are promoted/],
    [(h: string) => `${h}/team-evil/app:1`, /is not in the incoming registry/],
    [(h: string) => `${h}/team/../other/app:1`, /path component 2 "\.\." is a relative path segment/],
    [(h: string) => `${h}/team//app:1`, /path component 2 "" is empty/],
  ])('forge resolve (the CLI) refuses %s without a connection', async (make, message) => {
    // The incoming registry is the trap itself, so any registry call would show as a connection.
    const r = await execa(forge, ['resolve', '--image', make(trapHost), '--incoming', `${trapHost}/team`, '--trusted', `${registry.host}/forge`], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(trap.connections()).toBe(0);
  });

  it('forge promote refuses an image outside incoming without a connection, and records the refusal', async () => {
    const db = await openDatabase({ dataDir: join(work, 'records') });
    try {
      const records = new PromotionRecords(db);
      const config = { incoming: `${trapHost}/team`, trusted: `${registry.host}/forge`, workflow: { name: 'boundary', uid: '00000000-0000-0000-0000-00000000000b' } };
      const image = `${trapHost}/other/app:1`;
      await expect(promote(image, config as Parameters<typeof promote>[1], records)).rejects.toThrow(/is not in the incoming registry/);
      expect((await records.listEvents({ limit: 5 })).filter((e) => e.sourceReference === image)).toMatchObject([{ outcome: 'refused', checkName: 'resolve' }]);
      expect(trap.connections()).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('maps the path below incoming to the same path below trusted', () => {
    expect(trustedRepositoryFor('127.0.0.1:5000/team/a/b:1', { incoming: '127.0.0.1:5000/team', trusted: 'trusted.example.com/forge/' })).toBe('trusted.example.com/forge/a/b');
    expect(trustedRepositoryFor('127.0.0.1:5000/a:1', { incoming: '127.0.0.1:5000', trusted: 't.example.com' })).toBe('t.example.com/a');
  });
});

describe('non-root is read as the runtime reads it', () => {
  it.each(['+0', '0:1000', '00', ' 0'])('USER %j is refused', async (user) => {
    const r = repo();
    await buildImage(`${r}:1`, { user });
    const resolved = await resolveImage(`${r}:1`);
    expect(failed(evaluatePolicy(resolved, policy).checks)).toEqual([expect.stringMatching(/^non-root: USER/)]);
  });

  it("a named USER is looked up in the image's own /etc/passwd", async () => {
    const passwd = (uid: string) => `root:x:0:0:root:/root:/bin/sh\napp:x:${uid}:${uid}::/home/app:/bin/sh\n`;
    const cases: [string, Record<string, string | null>[], string, boolean][] = [
      ['maps to 1000', [{ 'etc/passwd': passwd('1000') }], 'app', true],
      ['maps to 0', [{ 'etc/passwd': passwd('0') }], 'app', false],
      ['maps to +0', [{ 'etc/passwd': passwd('+0') }], 'app', false],
      ['root by name', [{ 'etc/passwd': passwd('1000') }], 'root', false],
      ['absent from passwd', [{ 'etc/passwd': passwd('1000') }], 'svc', false],
      ['no passwd', [{ 'etc/hostname': 'x\n' }], 'app', false],
      // A lower layer maps app to 1000; the top layer deletes the file: the container has none.
      ['passwd deleted by a whiteout', [{ 'etc/passwd': passwd('1000') }, { 'etc/passwd': null }], 'app', false],
      // A lower layer says 1000, the upper layer's file (the one the container sees) says 0.
      ['passwd replaced by an upper layer', [{ 'etc/passwd': passwd('1000') }, { 'etc/passwd': passwd('0') }], 'app', false],
    ];
    for (const [what, layers, user, passes] of cases) {
      const r = repo();
      await buildImageWithFiles(`${r}:1`, layers, { user });
      const checks = evaluatePolicy(await resolveImage(`${r}:1`), policy).checks;
      expect(failed(checks).length === 0, `${what}: ${failed(checks).join('; ')}`).toBe(passes);
    }
  });
});

describe('a USER name whose /etc/passwd is ambiguous', () => {
  it('is refused when one layer holds /etc/passwd twice (the runtime would apply the second, UID 0)', async () => {
    const dir = await mkdtemp(join(work, 'dup-'));
    const tar = join(dir, 'layer.tar');
    for (const [i, uid] of ['1000', '0'].entries()) {
      await mkdir(join(dir, `r${i}`, 'etc'), { recursive: true });
      await writeFile(join(dir, `r${i}`, 'etc', 'passwd'), `app:x:${uid}:${uid}::/home/app:/bin/sh\n`);
      await execa('tar', ['-C', join(dir, `r${i}`), i === 0 ? '-cf' : '-rf', tar, 'etc/passwd']);
    }
    const r = `${repo()}:1`;
    await crane(['append', '--insecure', '--oci-empty-base', '-f', tar, '-t', r]);
    await crane(['mutate', '--insecure', '--user', 'app', r]);
    await expect(resolveImage(r)).rejects.toThrow(/holds \/etc\/passwd 2 times; container runtimes apply the last copy and the user check would read another, so USER app cannot be checked/);
  });
});

describe('every manifest of an index is checked, except genuine attestation manifests', () => {
  it('checks a child labelled unknown/unknown without the attestation annotation', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000', platform: 'linux/amd64' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const rootImage = await describeManifest(`${r}@${await buildImage(`${r}:hidden`, { user: '0' })}`, { platform: { os: 'unknown', architecture: 'unknown' } });
    await pushIndex(`${r}:1`, [good, rootImage]);
    const resolved = await resolveImage(`${r}:1`);
    expect(resolved.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'unknown/unknown']);
    expect(failed(evaluatePolicy(resolved, policy).checks)).toEqual(['non-root (unknown/unknown): USER 0 (UID 0 is root)']);
  });

  it('refuses a runnable child that claims to be an attestation manifest', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000', platform: 'linux/amd64' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const disguised = await describeManifest(`${r}@${await buildImage(`${r}:hidden`, { user: '0' })}`, {
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': good.digest },
    });
    await pushIndex(`${r}:1`, [good, disguised]);
    await expect(resolveImage(`${r}:1`)).rejects.toThrow(/annotated as an attestation manifest, but it has layers that are not application\/vnd.in-toto\+json/);
  });

  it('refuses an attestation manifest that describes no sibling', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000', platform: 'linux/amd64' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const orphan = await pushAttestationManifest(r, `sha256:${'b'.repeat(64)}`);
    await pushIndex(`${r}:1`, [good, orphan]);
    await expect(resolveImage(`${r}:1`)).rejects.toThrow(/vnd.docker.reference.digest does not name another manifest of the index/);
  });

  it('skips a genuine attestation manifest (in-toto layers, describing a sibling)', async () => {
    const r = repo();
    const good = await describeManifest(`${r}@${await buildImage(`${r}:amd64`, { user: '1000', platform: 'linux/amd64' })}`, { platform: { os: 'linux', architecture: 'amd64' } });
    await pushIndex(`${r}:1`, [good, await pushAttestationManifest(r, good.digest)]);
    const resolved = await resolveImage(`${r}:1`);
    expect(resolved.platforms.map((p) => p.platform)).toEqual(['linux/amd64']);
    expect(evaluatePolicy(resolved, policy).passed).toBe(true);
  });

  it('refuses a nested index and a child that is not an image', async () => {
    const r = repo();
    const inner = await describeManifest(`${r}@${await pushIndex(`${r}:inner`, [await describeManifest(`${r}@${await buildImage(`${r}:a`, { user: '1000' })}`)])}`, { platform: { os: 'linux', architecture: 'arm64' } });
    await pushIndex(`${r}:1`, [inner]);
    await expect(resolveImage(`${r}:1`)).rejects.toThrow(/is a nested index: only one level of platform images is checked, so it is not promoted/);
    const r2 = repo();
    const artifact = await pushAttestationManifest(r2, `sha256:${'c'.repeat(64)}`);
    await pushIndex(`${r2}:1`, [{ ...artifact, annotations: {} }]);
    await expect(resolveImage(`${r2}:1`)).rejects.toThrow(/\(unknown\/unknown\) is not a container image \(config application\/vnd.oci.empty.v1\+json\): it cannot be checked/);
  });
});
