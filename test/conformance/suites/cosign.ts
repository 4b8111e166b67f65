/**
 * Suite `cosign`: containers/image's cosign simple-signing vectors
 * (`../shared/fixtures/cosign/containers-image/`, from containers/image `signature/fixtures/`,
 * Apache-2.0) through `test/signatures/simple-signing.ts`, each signature cross-checked with the real
 * cosign. One check per vector; it passes when
 *
 * - node:crypto and `cosign verify-blob --key cosign.pub --insecure-ignore-tlog=true` agree on
 *   whether every signature verifies over its raw payload bytes, and
 * - the outcome of the whole check (media type, signature, payload, claim against the vector's
 *   `manifest.json`) is the expected one.
 *
 * `cosign verify-blob` checks only the signature; the media type, payload and claim checks are
 * ours (the same ones `cosign verify` applies to a `.sig` layer). `unknown-cosign-key.signature`
 * has no directory: it is checked against `dir-img-cosign-valid/manifest.json`, whose digest its
 * payload claims. Files are read through symlinks (containers/image keeps some vectors as links).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isForgeError } from '../../../steps/lib/errors.ts';
import { runTool } from '../../../steps/lib/exec.ts';
import {
  checkClaims,
  parseSimpleSigningPayload,
  readContainersImageSignature,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  verifySimpleSignature,
} from '../../signatures/simple-signing.ts';
import { fail, pass, type Check, type Suite } from '../suite.ts';

/** What our verification decides for one signature. */
type Outcome = 'accepted' | 'claim-refused' | 'signature-invalid' | 'not-a-signature' | 'payload-invalid' | 'unreadable';

interface Vector {
  name: string;
  /** Signature files, relative to the vectors directory; `dir/` lists its `signature-N` files. */
  signatures: { dir: string; count: number } | { file: string };
  /** The manifest the signatures are checked against, relative to the vectors directory. */
  manifest: string;
  /** Expected outcome for every signature of the vector. */
  expect: Outcome;
}

export const COSIGN_VECTORS: Vector[] = [
  { name: 'dir-img-cosign-valid', signatures: { dir: 'dir-img-cosign-valid', count: 1 }, manifest: 'dir-img-cosign-valid/manifest.json', expect: 'accepted' },
  { name: 'dir-img-cosign-valid-2', signatures: { dir: 'dir-img-cosign-valid-2', count: 2 }, manifest: 'dir-img-cosign-valid-2/manifest.json', expect: 'accepted' },
  {
    name: 'dir-img-cosign-valid-with-tag',
    signatures: { dir: 'dir-img-cosign-valid-with-tag', count: 1 },
    manifest: 'dir-img-cosign-valid-with-tag/manifest.json',
    expect: 'accepted',
  },
  {
    name: 'dir-img-cosign-modified-manifest',
    signatures: { dir: 'dir-img-cosign-modified-manifest', count: 1 },
    manifest: 'dir-img-cosign-modified-manifest/manifest.json',
    expect: 'claim-refused',
  },
  {
    name: 'dir-img-cosign-other-attachment',
    signatures: { dir: 'dir-img-cosign-other-attachment', count: 1 },
    manifest: 'dir-img-cosign-other-attachment/manifest.json',
    expect: 'not-a-signature',
  },
  { name: 'unknown-cosign-key.signature', signatures: { file: 'unknown-cosign-key.signature' }, manifest: 'dir-img-cosign-valid/manifest.json', expect: 'signature-invalid' },
];

const SUITE = 'cosign';
const KEY = 'cosign.pub';

const short = (digest: string): string => digest.replace(/^(\w+:[0-9a-f]{8})[0-9a-f]+$/, '$1…');

function errorText(e: unknown): string {
  if (isForgeError(e)) return e.format();
  return e instanceof Error ? e.message : String(e);
}

/** `cosign verify-blob` over the files; its verdict and, on failure, its `Error:` line. */
async function cosignVerifyBlob(scratch: string, keyFile: string, payload: Buffer, signatureB64: string, stem: string): Promise<{ ok: boolean; reason: string }> {
  const payloadFile = join(scratch, `${stem}.payload`);
  const sigFile = join(scratch, `${stem}.sig`);
  await writeFile(payloadFile, payload);
  await writeFile(sigFile, signatureB64);
  const r = await runTool('cosign', ['verify-blob', '--key', keyFile, '--signature', sigFile, '--insecure-ignore-tlog=true', payloadFile], {
    allowFailure: true,
    timeoutMs: 60_000,
    // verify-blob looks for Sigstore's TUF root even with --key (a warning offline): keep its cache in scratch.
    env: { TUF_ROOT: join(scratch, 'tuf') },
  });
  const errorLine = r.stderr.split('\n').find((l) => l.startsWith('Error:'));
  return { ok: r.exitCode === 0, reason: r.exitCode === 0 ? 'Verified OK' : (errorLine ?? r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`).replace(/^Error:\s*/, '') };
}

interface SignatureResult {
  file: string;
  outcome: Outcome;
  /** One clause for the summary line. */
  text: string;
  problems: string[];
}

async function checkSignature(vectorsDir: string, scratch: string, file: string, publicKeyPem: string, manifest: Buffer): Promise<SignatureResult> {
  const problems: string[] = [];
  let layer;
  try {
    layer = readContainersImageSignature(await readFile(join(vectorsDir, file)), file);
  } catch (e) {
    return { file, outcome: 'unreadable', text: `unreadable: ${errorText(e)}`, problems };
  }
  const signatureB64 = layer.annotations[SIGNATURE_ANNOTATION] ?? '';
  const node = verifySimpleSignature({ payload: layer.payload, signatureB64, publicKeyPem });
  const cosign = await cosignVerifyBlob(scratch, join(vectorsDir, KEY), layer.payload, signatureB64, file.replace(/[^\w.-]/g, '_'));
  if (node.ok !== cosign.ok) {
    problems.push(
      `node:crypto and cosign disagree on ${file}: node:crypto says ${node.ok ? 'valid' : `invalid (${node.reason})`}, ` +
        `cosign verify-blob says ${cosign.ok ? 'valid' : `invalid (${cosign.reason})`}`,
    );
  }
  const both = node.ok === cosign.ok;
  const sigText = both ? `signature ${node.ok ? 'valid' : 'invalid'} by cosign and node:crypto` : `signature: node:crypto ${node.ok ? 'valid' : 'invalid'}, cosign ${cosign.ok ? 'valid' : 'invalid'}`;

  if (layer.mimeType !== SIMPLE_SIGNING_MEDIA_TYPE) {
    return { file, outcome: 'not-a-signature', text: `media type ${layer.mimeType}, not simple-signing → rejected (${sigText})`, problems };
  }
  if (!node.ok) return { file, outcome: 'signature-invalid', text: `${sigText} (cosign: ${cosign.reason}) → refused`, problems };

  let payload;
  try {
    payload = parseSimpleSigningPayload(layer.payload, `${file} payload`);
  } catch (e) {
    return { file, outcome: 'payload-invalid', text: `${sigText}; ${errorText(e)} → refused`, problems };
  }
  const claims = checkClaims(payload, manifest);
  return claims.ok
    ? { file, outcome: 'accepted', text: `${sigText}; claim ${short(claims.claimed)} = manifest → accepted`, problems }
    : { file, outcome: 'claim-refused', text: `${sigText}; claim ${short(claims.claimed)} ≠ manifest ${short(claims.actual)} → refused`, problems };
}

async function signatureFiles(vectorsDir: string, v: Vector): Promise<string[]> {
  if ('file' in v.signatures) return [v.signatures.file];
  const dir = v.signatures.dir;
  const names = (await readdir(join(vectorsDir, dir))).filter((n) => /^signature-\d+$/.test(n));
  names.sort((a, b) => Number(a.slice('signature-'.length)) - Number(b.slice('signature-'.length)));
  return names.map((n) => `${dir}/${n}`);
}

async function runOne(vectorsDir: string, scratch: string, publicKeyPem: string, v: Vector): Promise<Check> {
  let files: string[];
  let manifest: Buffer;
  try {
    files = await signatureFiles(vectorsDir, v);
    manifest = await readFile(join(vectorsDir, v.manifest));
  } catch (e) {
    return fail(SUITE, v.name, 'vector missing', [`cannot read the vector in ${vectorsDir}: ${errorText(e)}`]);
  }
  const problems: string[] = [];
  if ('count' in v.signatures && files.length !== v.signatures.count) problems.push(`expected ${v.signatures.count} signature file(s), found ${files.length}: ${files.join(', ') || 'none'}`);

  const results: SignatureResult[] = [];
  for (const file of files) {
    try {
      results.push(await checkSignature(vectorsDir, scratch, file, publicKeyPem, manifest));
    } catch (e) {
      results.push({ file, outcome: 'unreadable', text: `not checked: ${errorText(e)}`, problems: [`${file}: ${errorText(e)}`] });
    }
  }
  for (const r of results) {
    problems.push(...r.problems);
    if (r.outcome !== v.expect) problems.push(`${r.file}: expected ${v.expect}, got ${r.outcome}: ${r.text}`);
  }
  const summary = results.length === 1 ? results[0]!.text : results.map((r) => `${r.file.split('/').at(-1)}: ${r.text}`).join('; ');
  return problems.length === 0 ? pass(SUITE, v.name, summary) : fail(SUITE, v.name, summary || 'no signatures', problems);
}

export const cosignSuite: Suite = {
  name: SUITE,
  description: "containers/image's cosign simple-signing vectors through node:crypto and the real cosign verify-blob, plus media type and claim checks",
  async run(ctx) {
    const vectorsDir = join(ctx.sharedDir, 'fixtures', 'cosign', 'containers-image');
    const scratch = join(ctx.tmpDir, 'cosign');
    await mkdir(scratch, { recursive: true });
    const publicKeyPem = await readFile(join(vectorsDir, KEY), 'utf8');
    const checks: Check[] = [];
    for (const v of COSIGN_VECTORS) checks.push(await runOne(vectorsDir, scratch, publicKeyPem, v));
    return checks;
  },
};
