import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { ForgeError } from '../errors.ts';

/**
 * The resources layer of a Release OCI image: the rendered YAML files as one gzip tar. Packed
 * reproducibly (sorted names, mtime 0, root-owned, mode 0644: the same files give the same
 * digest, so a rerun of a release changes nothing); unpacked in memory under limits, refusing
 * anything but plain relative files — the layer comes from a registry, so it is hostile input.
 */
export interface ResourceFile {
  /** Relative path inside the layer (`api/deployment.yaml`). */
  name: string;
  content: string;
}

export interface UnpackLimits {
  /** Most bytes the gzip may inflate to (default 16 MiB). */
  maxBytes?: number;
  /** Most files (default 1000). */
  maxFiles?: number;
}

const SAFE_NAME = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._/-]{1,255}$/;

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function packResources(files: ResourceFile[]): Promise<Buffer> {
  const names = new Set<string>();
  for (const f of files) {
    if (!SAFE_NAME.test(f.name)) throw new ForgeError('INVALID_ARGS', `resource file name ${JSON.stringify(f.name)}: must be a relative path of letters, digits, . _ - and /, without . or .. parts`);
    if (names.has(f.name)) throw new ForgeError('INVALID_ARGS', `resource file ${f.name} appears twice`);
    names.add(f.name);
  }
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    pack.entry({ name: f.name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, f.content);
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

/**
 * The files of a resources layer (`where` names it in errors: the image and layer digest). Gzip
 * or plain tar (the seed's older `…resources.v1+tar`); only regular files with safe relative
 * names, at most `maxFiles` of them and `maxBytes` in all.
 */
export async function unpackResources(layer: Uint8Array, where: string, limits: UnpackLimits = {}): Promise<ResourceFile[]> {
  const maxBytes = limits.maxBytes ?? 16 * 1024 * 1024;
  const maxFiles = limits.maxFiles ?? 1000;
  const refuse = (why: string) => new ForgeError('RELEASE_INVALID', `${where}: ${why}`);
  let tarBytes: Buffer;
  try {
    tarBytes = layer[0] === 0x1f && layer[1] === 0x8b ? gunzipSync(layer, { maxOutputLength: maxBytes }) : Buffer.from(layer);
  } catch (e) {
    throw refuse(/larger than|maxOutputLength|Cannot create a Buffer/i.test((e as Error).message) ? `the resources layer inflates to more than ${maxBytes} bytes` : `the resources layer is not valid gzip (${(e as Error).message})`);
  }
  if (tarBytes.length > maxBytes) throw refuse(`the resources layer is more than ${maxBytes} bytes`);
  const extract = tar.extract();
  const files: ResourceFile[] = [];
  const seen = new Set<string>();
  let failure: ForgeError | undefined; // the first refusal; the rest of the (in-memory) tar is skipped
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const skip = () => {
        stream.on('end', next);
        stream.resume();
      };
      const fail = (why: string) => {
        failure ??= refuse(`layer entry ${JSON.stringify(header.name)}: ${why}`);
        skip();
      };
      if (failure || header.type === 'directory') return skip();
      if (header.type !== 'file') return fail(`a ${header.type}, not a regular file`);
      const name = header.name.replace(/^\.\//, '');
      if (!SAFE_NAME.test(name)) return fail('not a safe relative path (absolute, or with . or .. parts, or unusual characters)');
      if (seen.has(name)) return fail('appears twice');
      if (files.length >= maxFiles) return fail(`more than ${maxFiles} files`);
      seen.add(name);
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => void parts.push(c as Buffer));
      stream.on('end', () => {
        files.push({ name, content: Buffer.concat(parts).toString('utf8') });
        next();
      });
    });
    extract.on('finish', () => (failure ? reject(failure) : resolve()));
    extract.on('error', (e) => reject(failure ?? refuse(`the resources layer is not a valid tar (${e.message})`)));
  });
  Readable.from([tarBytes]).pipe(extract);
  await finished;
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
