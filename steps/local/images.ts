import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { crane } from '../lib/crane.ts';

/**
 * Builds a real image in a registry with crane: one layer from a tarball made here (random bytes
 * of the given size, so it does not compress), then the config's USER. Returns its digest.
 */
export async function buildImage(reference: string, opts: { user?: string; layerBytes?: number; layers?: number; platform?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-image-'));
  try {
    const files: string[] = [];
    for (let i = 0; i < (opts.layers ?? 1); i++) {
      const content = join(dir, `content-${i}`);
      await writeFile(content, opts.layerBytes ? randomBytes(opts.layerBytes) : `layer ${i} of ${reference} ${randomBytes(8).toString('hex')}\n`);
      const tar = join(dir, `layer-${i}.tar`);
      await execa('tar', ['-C', dir, '-cf', tar, `content-${i}`]);
      files.push('-f', tar);
    }
    await crane(['append', '--insecure', '--oci-empty-base', ...files, '-t', reference]);
    const mutations = [
      ...(opts.user !== undefined ? ['--user', opts.user] : []),
      ...(opts.platform ? ['--set-platform', opts.platform] : []),
    ];
    if (mutations.length > 0) await crane(['mutate', '--insecure', ...mutations, reference]);
    return (await crane(['digest', '--insecure', reference])).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
