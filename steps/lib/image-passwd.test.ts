import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../test/helpers/forge-error.ts';
import { buildImageWithFiles } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { crane, manifestOf } from './crane.ts';
import { ForgeError } from './errors.ts';
import { lookupNamedUser, passwdOf, uidInPasswd, USER_NAME } from './image-passwd.ts';
import { startTrap, type Trap } from '../../test/helpers/trap.ts';

/** The image's own /etc/passwd, read through the real `crane export` from a real registry. */
let registry: Registry;
let work: string;
let counter = 0;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'forge-passwd-test-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';

/** An image of one layer whose tar holds `entries` under exactly these names (tar -P keeps a leading /). */
async function imageWithEntries(entries: { name: string; content?: string; link?: string }[]): Promise<string> {
  const dir = await mkdtemp(join(work, 'layer-'));
  const tar = join(dir, 'layer.tar');
  for (const [i, e] of entries.entries()) {
    const root = join(dir, `root-${i}`);
    const relative = e.name.replace(/^\.?\//, '');
    await mkdir(join(root, relative, '..'), { recursive: true });
    if (e.link !== undefined) await symlink(e.link, join(root, relative));
    else await writeFile(join(root, relative), e.content ?? '');
    // --transform renames the member to the exact name wanted; -P keeps a leading '/'.
    await execa('tar', ['-C', root, i === 0 ? '-cPf' : '-rPf', tar, '--transform', `s,^${relative}$,${e.name},`, relative]);
  }
  const reference = `${registry.host}/team/passwd-${++counter}:1`;
  await crane(['append', '--insecure', '--oci-empty-base', '-f', tar, '-t', reference]);
  return reference;
}

describe('uidInPasswd: the UID field of a passwd line, as written', () => {
  it('finds the named user and returns its UID field unparsed', () => {
    expect(uidInPasswd(PASSWD, 'app')).toBe('1000');
    expect(uidInPasswd(PASSWD, 'root')).toBe('0');
    expect(uidInPasswd('app:x:+0:0::/:/bin/sh\n', 'app')).toBe('+0');
    expect(uidInPasswd('app:x:01000:0::/:/bin/sh', 'app')).toBe('01000');
  });

  it('matches the whole name only, takes the first line of a name, and skips lines with fewer than 7 fields', () => {
    expect(uidInPasswd(PASSWD, 'ap')).toBeUndefined();
    expect(uidInPasswd(PASSWD, 'app2')).toBeUndefined();
    expect(uidInPasswd('app:x:1000:1000::/:/bin/sh\napp:x:0:0::/:/bin/sh\n', 'app')).toBe('1000');
    expect(uidInPasswd('app:x:0:0::/\napp:x:1000:1000::/:/bin/sh\n', 'app')).toBe('1000');
    expect(uidInPasswd('app:x:0:0:::/bin/sh:extra\n', 'app')).toBe('0');
    expect(uidInPasswd('', 'app')).toBeUndefined();
  });

  it.each(['app', '_svc', 'a', 'nginx-1', 'a'.repeat(32)])('%j is a user name', (name) => expect(USER_NAME.test(name)).toBe(true));
  it.each(['App', '1app', '-app', 'app.x', 'a b', '', 'a'.repeat(33), 'app\n'])('%j is not', (name) => expect(USER_NAME.test(name)).toBe(false));
});

describe('lookupNamedUser: only a named USER reads the image', () => {
  let trap: Trap;
  let trapHost = '';
  beforeAll(async () => {
    trap = await startTrap();
    trapHost = trap.host;
  });
  afterAll(() => trap.close());

  it.each(['1000', '1000:1000', '', '+0', ' app', 'App', '0:app'])('USER %j: undefined, and no registry is contacted', async (user) => {
    expect(await lookupNamedUser(`${trapHost}/team/app:1`, user)).toBeUndefined();
    expect(trap.connections()).toBe(0);
  });

  it('a named USER (with or without a group) is looked up by its name', async () => {
    const reference = `${registry.host}/team/named-${++counter}:1`;
    await buildImageWithFiles(reference, [{ 'etc/passwd': PASSWD }]);
    expect(await lookupNamedUser(reference, 'app')).toEqual({ uid: '1000' });
    expect(await lookupNamedUser(reference, 'app:staff')).toEqual({ uid: '1000' });
    expect(await lookupNamedUser(reference, 'root:app')).toEqual({ uid: '0' });
    expect(await lookupNamedUser(reference, 'svc')).toEqual({ missing: "not in the image's /etc/passwd" });
  });

  it('an image without /etc/passwd', async () => {
    const reference = `${registry.host}/team/named-${++counter}:1`;
    await buildImageWithFiles(reference, [{ 'etc/hostname': 'x\n' }]);
    expect(await lookupNamedUser(reference, 'app')).toEqual({ missing: 'no /etc/passwd in the image' });
  });
});

describe('lookupNamedUser with the layers: one /etc/passwd, or no answer', () => {
  it('refuses a layer that holds /etc/passwd twice (runtimes apply the last copy, crane export keeps the first)', async () => {
    const reference = await imageWithEntries([{ name: 'etc/passwd', content: PASSWD }, { name: 'etc/passwd', content: 'app:x:0:0::/:/bin/sh\n' }]);
    const { manifest } = await manifestOf(reference);
    expect(await passwdOf(reference)).toBe(PASSWD); // what crane export alone would have answered
    const e = await lookupNamedUser(reference, 'app', manifest.layers).catch((x: unknown) => x as ForgeError);
    expect(e).toBeInstanceOf(ForgeError);
    expect((e as ForgeError).code).toBe('POLICY_VIOLATION');
    expect((e as Error).message).toMatch(/layer sha256:[0-9a-f]{64} holds \/etc\/passwd 2 times; container runtimes apply the last copy and the user check would read another, so USER app cannot be checked/);
  });

  it('one copy per layer (across layers the export already applies the top one): answered', async () => {
    const reference = await imageWithEntries([{ name: './etc/passwd', content: PASSWD }]);
    const { manifest } = await manifestOf(reference);
    expect(await lookupNamedUser(reference, 'app', manifest.layers)).toEqual({ uid: '1000' });
    const zstd = [{ ...manifest.layers![0]!, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }];
    await expect(lookupNamedUser(reference, 'app', zstd)).rejects.toThrow(/is application\/vnd.oci.image.layer.v1.tar\+zstd, which the user check cannot read \(gzip or plain tar only\)/);
  });
});

describe('passwdOf: the file the container sees', () => {
  it.each(['etc/passwd', './etc/passwd', '/etc/passwd'])('reads the entry named %j', async (name) => {
    expect(await passwdOf(await imageWithEntries([{ name: 'etc/hostname', content: 'x\n' }, { name, content: PASSWD }]))).toBe(PASSWD);
  });

  it('ignores files of other names, and a passwd that is a symbolic link (not followed)', async () => {
    expect(await passwdOf(await imageWithEntries([{ name: 'etc/passwd-', content: PASSWD }, { name: 'home/etc/passwd', content: PASSWD }]))).toBeUndefined();
    expect(await passwdOf(await imageWithEntries([{ name: 'srv/passwd', content: PASSWD }, { name: 'etc/passwd', link: '/srv/passwd' }]))).toBeUndefined();
  });

  it('streams the export: a filesystem larger than a process output buffer (100 MB) after the passwd', async () => {
    const big = 'x'.repeat(101 * 1024 * 1024);
    expect(await passwdOf(await imageWithEntries([{ name: 'etc/passwd', content: PASSWD }, { name: 'srv/big', content: big }, { name: 'srv/z', content: 'z\n' }]))).toBe(PASSWD);
  }, 60_000);

  it('reads a passwd of exactly 1 MiB, refuses a larger one naming its size, and does not read it', async () => {
    const line = 'app:x:1000:1000::/home/app:/bin/sh\n';
    const exact = line + 'x'.repeat(1024 * 1024 - line.length);
    expect((await passwdOf(await imageWithEntries([{ name: 'etc/passwd', content: exact }])))?.length).toBe(1024 * 1024);
    const reference = await imageWithEntries([{ name: 'etc/passwd', content: `${exact}y` }]);
    const e = await failure(passwdOf(reference));
    expect(e.code).toBe('POLICY_VIOLATION');
    expect(e.message).toBe(`${reference}: /etc/passwd is ${1024 * 1024 + 1} bytes, more than ${1024 * 1024}: not read`);
  });

  it('names the image and crane\'s last words when the export fails', async () => {
    const reference = `${registry.host}/team/absent:1`;
    const e = await failure(passwdOf(reference));
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.message).toMatch(new RegExp(`^crane export ${reference.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed: \\S.*MANIFEST_UNKNOWN`));
  });
});
