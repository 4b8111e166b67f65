import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { extract } from 'tar-stream';
import type { Descriptor } from './crane.ts';
import { ForgeError } from './errors.ts';
import { isPlainHttpRegistry } from './exec.ts';
import { parseReference } from './reference.ts';
import { toolPath } from './tools.ts';

/** How a named USER maps to a UID in the image's own /etc/passwd, or why it does not. */
export type UserLookup = { uid: string } | { missing: 'no /etc/passwd in the image' | "not in the image's /etc/passwd" };

/** A user name as useradd accepts it (a USER that is not a number is one of these, or invalid). */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** `/etc/passwd` is a few KiB; anything larger is not read whole. */
const PASSWD_MAX_BYTES = 1024 * 1024;
const PASSWD_ENTRIES = new Set(['etc/passwd', './etc/passwd', '/etc/passwd']);

/**
 * The image's own `/etc/passwd` as the container runtime sees it: `crane export` flattens the
 * layers (whiteouts applied), and the file is taken from that stream. Undefined when the image has
 * no such regular file (absent, deleted, or a link — a link is not followed). Reads the whole
 * filesystem, so it is only called for a named USER.
 */
export async function passwdOf(reference: string): Promise<string | undefined> {
  const crane = toolPath('crane');
  const child = execa(crane, ['export', ...(isPlainHttpRegistry(reference) ? ['--insecure'] : []), reference, '-'], {
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    timeout: 600_000,
  });
  const found = new Promise<string | undefined>((resolve, reject) => {
    let passwd: string | undefined;
    const tar = extract();
    tar.on('entry', (header, stream, next) => {
      // crane export writes each path once (the top-most layer's, whiteouts applied), so the one
      // regular file at /etc/passwd is the answer; anything else is skipped.
      if (!PASSWD_ENTRIES.has(header.name) || header.type !== 'file') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      if ((header.size ?? 0) > PASSWD_MAX_BYTES) {
        reject(new ForgeError('POLICY_VIOLATION', `${reference}: /etc/passwd is ${header.size} bytes, more than ${PASSWD_MAX_BYTES}: not read`));
        stream.resume();
        return next();
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        passwd = Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    tar.on('finish', () => resolve(passwd));
    // crane writes a tar or fails (and its failure rejects below), so no real export reaches this.
    // Stryker disable next-line all: equivalent with the real crane
    tar.on('error', (e) => reject(new ForgeError('TOOL_FAILED', `${reference}: the exported filesystem is not a readable tar: ${e.message}`)));
    child.stdout!.pipe(tar);
  });
  const [passwd] = await Promise.all([
    found,
    child.catch((e: { stderr?: string; shortMessage?: string }) => {
      throw new ForgeError('TOOL_FAILED', `crane export ${reference} failed: ${(e.stderr ?? e.shortMessage ?? '').trim().split('\n').at(-1)}`);
    }),
  ]);
  return passwd;
}

/** The UID field of `name` in a passwd file's text, as written (undefined when absent). */
export function uidInPasswd(passwd: string, name: string): string | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 7 && fields[0] === name) return fields[2];
  }
  return undefined;
}

/**
 * Looks a named USER (`name[:group]`) up in the image; undefined for a numeric or malformed USER.
 * With the image's `layers`, first refuses a layer that holds /etc/passwd more than once: a
 * container runtime applies the last copy, `crane export` keeps the first, so the file read
 * here would not be the one the container runs with.
 */
export async function lookupNamedUser(reference: string, user: string, layers?: Descriptor[]): Promise<UserLookup | undefined> {
  const name = user.split(':')[0]!;
  if (!USER_NAME.test(name)) return undefined;
  for (const layer of layers ?? []) {
    const copies = await passwdCopies(reference, layer);
    if (copies > 1) {
      throw new ForgeError('POLICY_VIOLATION', `${reference}: layer ${layer.digest} holds /etc/passwd ${copies} times; container runtimes apply the last copy and the user check would read another, so USER ${user} cannot be checked`);
    }
  }
  const passwd = await passwdOf(reference);
  if (passwd === undefined) return { missing: 'no /etc/passwd in the image' };
  const uid = uidInPasswd(passwd, name);
  return uid === undefined ? { missing: "not in the image's /etc/passwd" } : { uid };
}

/** How many entries named /etc/passwd (of any type) one layer's tar holds. */
async function passwdCopies(reference: string, layer: Descriptor): Promise<number> {
  const gzip = /gzip/.test(layer.mediaType);
  if (!gzip && !/\.tar$/.test(layer.mediaType)) {
    throw new ForgeError('POLICY_VIOLATION', `${reference}: layer ${layer.digest} is ${layer.mediaType}, which the user check cannot read (gzip or plain tar only)`);
  }
  const blob = `${parseReference(reference).repository}@${layer.digest}`;
  const child = execa(toolPath('crane'), ['blob', ...(isPlainHttpRegistry(reference) ? ['--insecure'] : []), blob], { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true }, timeout: 600_000 });
  const counted = new Promise<number>((resolve, reject) => {
    let copies = 0;
    const tar = extract();
    tar.on('entry', (header, stream, next) => {
      if (PASSWD_ENTRIES.has(header.name)) copies++;
      stream.on('end', next);
      stream.resume();
    });
    tar.on('finish', () => resolve(copies));
    tar.on('error', (e) => reject(new ForgeError('POLICY_VIOLATION', `${reference}: layer ${layer.digest} is not a readable tar: ${e.message}`)));
    const source = gzip ? child.stdout!.pipe(createGunzip()).on('error', (e) => reject(new ForgeError('POLICY_VIOLATION', `${reference}: layer ${layer.digest} is not valid gzip: ${e.message}`))) : child.stdout!;
    source.pipe(tar);
  });
  const [copies] = await Promise.all([
    counted,
    child.catch((e: { stderr?: string; shortMessage?: string }) => {
      throw new ForgeError('TOOL_FAILED', `crane blob ${blob} failed: ${(e.stderr ?? e.shortMessage ?? '').trim().split('\n').at(-1)}`);
    }),
  ]);
  return copies;
}
