import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../test/helpers/fault-proxy.ts';
import { buildImage } from '../../test/helpers/images.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { signatureTag } from '../lib/cosign.ts';
import { digestOf, exists } from '../lib/crane.ts';
import { ForgeError } from '../lib/errors.ts';
import { failure } from '../../test/helpers/forge-error.ts';
import { promoteDigest } from './copy.ts';

/** The copy step against two real registries; .sig/.att stand-ins are real manifests under cosign's tags. */
let incoming: Registry;
let trusted: Registry;
let counter = 0;

beforeAll(async () => {
  [incoming, trusted] = await Promise.all([startRegistry(), startRegistry()]);
}, 60_000);
afterAll(async () => Promise.all([incoming?.stop(), trusted?.stop()]));

async function candidate() {
  const name = `team/app-${++counter}`;
  const source = `${incoming.host}/${name}`;
  const target = `${trusted.host}/forge/${name}`;
  const digest = await buildImage(`${source}:1`, { user: '1000' });
  return { source, target, digest, sig: signatureTag(digest, 'sig'), att: signatureTag(digest, 'att') };
}

describe('copy: the exact digest, with its .sig/.att tags', () => {
  it('copies the digest and each tag pinned to the digest it named', async () => {
    const c = await candidate();
    const sig = await buildImage(`${c.source}:${c.sig}`);
    const att = await buildImage(`${c.source}:${c.att}`);
    const result = await promoteDigest(c.source, c.digest, c.target);
    expect(result).toEqual({ reference: `${c.target}@${c.digest}`, tags: [c.sig, c.att], copied: true });
    expect(await digestOf(`${c.target}:${c.sig}`)).toBe(sig);
    expect(await digestOf(`${c.target}:${c.att}`)).toBe(att);
    // A rerun copies nothing and reports it.
    expect(await promoteDigest(c.source, c.digest, c.target)).toEqual({ reference: `${c.target}@${c.digest}`, tags: [], copied: false });
  });

  it('never replaces an attestation or signature the trusted registry already has', async () => {
    const c = await candidate();
    // The trusted registry holds the promotion attestation and a signature of this digest.
    const trustedAtt = await buildImage(`${c.target}:${c.att}`);
    const trustedSig = await buildImage(`${c.target}:${c.sig}`);
    // Incoming content under the same tags (what a submitter controls) must not overwrite them.
    await buildImage(`${c.source}:${c.att}`);
    await buildImage(`${c.source}:${c.sig}`);
    const result = await promoteDigest(c.source, c.digest, c.target);
    expect(result.tags).toEqual([]);
    expect(await digestOf(`${c.target}:${c.att}`)).toBe(trustedAtt);
    expect(await digestOf(`${c.target}:${c.sig}`)).toBe(trustedSig);
    expect(await exists(`${c.target}@${c.digest}`)).toBe(true);
  });

  it('copies only the tag the trusted registry lacks', async () => {
    const c = await candidate();
    const trustedAtt = await buildImage(`${c.target}:${c.att}`);
    const sig = await buildImage(`${c.source}:${c.sig}`);
    await buildImage(`${c.source}:${c.att}`);
    const result = await promoteDigest(c.source, c.digest, c.target);
    expect(result.tags).toEqual([c.sig]);
    expect(await digestOf(`${c.target}:${c.sig}`)).toBe(sig);
    expect(await digestOf(`${c.target}:${c.att}`)).toBe(trustedAtt);
  });

  it('copies no tag of another digest', async () => {
    const c = await candidate();
    const other = await candidate();
    await buildImage(`${c.source}:${other.sig}`);
    expect((await promoteDigest(c.source, c.digest, c.target)).tags).toEqual([]);
    expect(await exists(`${c.target}:${other.sig}`)).toBe(false);
  });

  it("a registry failing mid-copy: COPY_FAILED naming source, target and the registry's reason, and no manifest left", async () => {
    const c = await candidate();
    await buildImage(`${c.source}:${c.sig}`);
    const proxy = await startFaultProxy(trusted.url, (req) => req.method !== 'GET' && req.method !== 'HEAD' && /\/blobs\/uploads\//.test(req.url ?? ''));
    try {
      const target = `${proxy.host}/forge/${c.source.slice(incoming.host.length + 1)}`;
      const e = await promoteDigest(c.source, c.digest, target).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ForgeError);
      const f = e as ForgeError;
      expect(f.code).toBe('COPY_FAILED');
      expect(f.message).toBe(
        `copying ${c.source}@${c.digest} to ${target} failed: Error response from registry: unknown: injected fault. ` +
          'No manifest without its blobs was written (each manifest goes last); run the promotion again to complete it',
      );
      expect(f.details).toEqual([]);
      expect(f.cause).toBeInstanceOf(Error);
      expect(proxy.failures).toBeGreaterThan(0);
      expect(await exists(`${c.target}@${c.digest}`)).toBe(false);
      // The rerun, once the registry is well, completes it.
      proxy.broken = false;
      expect(await promoteDigest(c.source, c.digest, target)).toEqual({ reference: `${target}@${c.digest}`, tags: [c.sig], copied: true });
    } finally {
      await proxy.stop();
    }
  });

  it('a signature tag that fails to copy fails the step, and the rerun copies it', async () => {
    const c = await candidate();
    const sig = await buildImage(`${c.source}:${c.sig}`);
    const proxy = await startFaultProxy(trusted.url, (req) => req.method === 'PUT' && (req.url ?? '').endsWith(`/manifests/${c.sig}`));
    try {
      const target = `${proxy.host}/forge/${c.source.slice(incoming.host.length + 1)}`;
      const e = await failure(promoteDigest(c.source, c.digest, target));
      expect(e.toJSON()).toEqual({
        code: 'COPY_FAILED',
        message: `copying ${c.source}@${c.digest} to ${target} failed: Error response from registry: unknown: injected fault. No manifest without its blobs was written (each manifest goes last); run the promotion again to complete it`,
        details: [],
      });
      expect(proxy.failures).toBeGreaterThan(0);
      expect(await exists(`${target}:${c.sig}`)).toBe(false);
      proxy.broken = false;
      // The image itself was copied the first time; the rerun adds the signature.
      expect(await promoteDigest(c.source, c.digest, target)).toEqual({ reference: `${target}@${c.digest}`, tags: [c.sig], copied: false });
      expect(await digestOf(`${target}:${c.sig}`)).toBe(sig);
    } finally {
      await proxy.stop();
    }
  });

  it('checks the digest in the trusted registry after copying, not only that the copy exited 0', async () => {
    const c = await candidate();
    // The registry takes the manifest and confirms it to oras, then no longer serves it to the
    // check that follows (crane, by its user agent): a registry losing writes.
    let written = false;
    const proxy = await startFaultProxy(trusted.url, (req) => {
      const manifest = (req.url ?? '').endsWith(`/manifests/${c.digest}`);
      if (manifest && req.method === 'PUT') written = true;
      return manifest && written && /go-containerregistry/.test(req.headers['user-agent'] ?? '');
    });
    try {
      const target = `${proxy.host}/forge/${c.source.slice(incoming.host.length + 1)}`;
      expect((await failure(promoteDigest(c.source, c.digest, target))).toJSON()).toEqual({
        code: 'COPY_FAILED',
        message: `after copying, ${target}@${c.digest} resolves to nothing: the trusted registry does not hold the promoted digest`,
        details: [],
      });
    } finally {
      await proxy.stop();
    }
  });
});
