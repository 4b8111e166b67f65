import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, test } from 'vitest';
import { isForgeError } from '../errors.ts';
import { packResources, sha256, unpackResources } from './resources-layer.ts';

// The resources layer: reproducible packing, and hostile layers refused before anything is used.

/** A tar made entry by entry, as an attacker would write it. */
async function handMade(entries: { name: string; type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device'; content?: string; linkname?: string }[], gzip = true): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((r) => pack.on('end', r));
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (e.type && e.type !== 'file') pack.entry(header);
    else pack.entry(header, e.content ?? 'kind: ConfigMap\n');
  }
  pack.finalize();
  await done;
  const bytes = Buffer.concat(chunks);
  return gzip ? gzipSync(bytes) : bytes;
}

async function refusal(layer: Buffer, limits = {}): Promise<string> {
  const e = await unpackResources(layer, 'reg/app:abc layer sha256:x', limits).then(() => undefined, (err: unknown) => err);
  expect(isForgeError(e) && e.code).toBe('RELEASE_INVALID');
  return (e as Error).message;
}

describe('packResources', () => {
  test('the same files give the same bytes, whatever their order; they unpack as they went in', async () => {
    const files = [{ name: 'b/service.yaml', content: 'kind: Service\n' }, { name: 'a/deployment.yaml', content: 'kind: Deployment\n' }];
    const one = await packResources(files);
    const two = await packResources([...files].reverse());
    expect(sha256(one)).toBe(sha256(two));
    expect(await unpackResources(one, 'x')).toEqual([files[1], files[0]]);
    expect(sha256(await packResources([{ ...files[0]!, content: 'kind: Service # changed\n' }, files[1]!]))).not.toBe(sha256(one));
  });

  test('refuses names that would escape or collide', async () => {
    for (const name of ['/etc/passwd', '../up.yaml', 'a/../../b.yaml', './x.yaml', 'a b.yaml', '']) {
      await expect(packResources([{ name, content: 'x' }])).rejects.toThrow(/must be a relative path/);
    }
    await expect(packResources([{ name: 'a.yaml', content: 'x' }, { name: 'a.yaml', content: 'y' }])).rejects.toThrow('resource file a.yaml appears twice');
  });
});

describe('unpackResources refuses a hostile layer', () => {
  test('paths that escape, links, devices and duplicates', async () => {
    expect(await refusal(await handMade([{ name: '../../etc/cron.d/x' }]))).toMatch(/layer entry "..\/..\/etc\/cron.d\/x": not a safe relative path/);
    expect(await refusal(await handMade([{ name: '/abs.yaml' }]))).toMatch(/"\/abs.yaml": not a safe relative path/);
    expect(await refusal(await handMade([{ name: 'link.yaml', type: 'symlink', linkname: '/etc/shadow' }]))).toMatch(/"link.yaml": a symlink, not a regular file/);
    expect(await refusal(await handMade([{ name: 'hard.yaml', type: 'link', linkname: 'a.yaml' }]))).toMatch(/"hard.yaml": a link, not a regular file/);
    expect(await refusal(await handMade([{ name: 'dev', type: 'character-device' }]))).toMatch(/"dev": a character-device, not a regular file/);
    expect(await refusal(await handMade([{ name: 'a.yaml' }, { name: 'a.yaml' }]))).toMatch(/"a.yaml": appears twice/);
  });

  test('too many files, too many bytes (a gzip bomb stops at the limit), not a tar, not gzip', async () => {
    expect(await refusal(await handMade([{ name: 'a.yaml' }, { name: 'b.yaml' }, { name: 'c.yaml' }]), { maxFiles: 2 })).toMatch(/"c.yaml": more than 2 files/);
    const bomb = await handMade([{ name: 'big.yaml', content: 'x'.repeat(4 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(await refusal(bomb, { maxBytes: 1024 * 1024 })).toMatch(/the resources layer inflates to more than 1048576 bytes/);
    expect(await refusal(gzipSync(Buffer.from('not a tar at all, but long enough to be read as a header block'.repeat(20))))).toMatch(/not a valid tar/);
    expect(await refusal(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]))).toMatch(/not valid gzip/);
  });

  test('a plain tar (the seed\'s older resources type) and directories are read', async () => {
    const files = await unpackResources(await handMade([{ name: 'dir/', type: 'directory' }, { name: 'dir/a.yaml', content: 'kind: A\n' }], false), 'x');
    expect(files).toEqual([{ name: 'dir/a.yaml', content: 'kind: A\n' }]);
  });
});
