import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { githubCall, type GithubCall } from '../github/rest.ts';

/**
 * The `github` publisher: a binary or archive uploaded as an asset of the GitHub release of a tag
 * (created when missing), through GitHub's REST API (`X-GitHub-Api-Version: 2022-11-28`). Idempotent
 * like the oci publisher: an asset of that name with the same sha256 is reused, one with other
 * content is an error — never deleted and replaced. The token is sent, never printed.
 */
export interface GithubTarget {
  /** `https://api.github.com` (or an Enterprise server's `/api/v3`). */
  apiUrl: string;
  /** `https://uploads.github.com` (Enterprise: `<server>/api/uploads`). */
  uploadUrl: string;
  owner: string;
  repo: string;
  tag: string;
  token: string;
}

export interface GithubAsset {
  /** The asset's download URL. */
  uri: string;
  digest: string;
  reused: boolean;
  /** The release's page (`html_url`), when GitHub gave one. */
  releaseUrl?: string;
}

const release = z.object({ id: z.number(), upload_url: z.string().optional(), html_url: z.string().optional() });
const asset = z.object({ id: z.number(), name: z.string(), browser_download_url: z.string(), digest: z.string().nullable().optional(), size: z.number() });
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export async function publishGithubAsset(target: GithubTarget, file: string, name = basename(file)): Promise<GithubAsset> {
  if (!NAME.test(name)) throw new ForgeError('INVALID_ARGS', `asset name ${JSON.stringify(name)}: letters, digits, . _ - only`);
  for (const [field, value] of [['owner', target.owner], ['repo', target.repo]] as const) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) throw new ForgeError('INVALID_ARGS', `github ${field} ${JSON.stringify(value)} is not a GitHub name`);
  }
  const bytes = await readFile(file);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const repo = `${target.apiUrl.replace(/\/+$/, '')}/repos/${target.owner}/${target.repo}`;
  const rel = await releaseOf(target, repo);
  const assets = z.array(asset).parse(await call(target, 'GET', `${repo}/releases/${rel.id}/assets?per_page=100`));
  const existing = assets.find((a) => a.name === name);
  if (existing) {
    if (existing.digest === digest) return { uri: existing.browser_download_url, digest, reused: true, ...(rel.html_url ? { releaseUrl: rel.html_url } : {}) };
    throw new ForgeError('COPY_FAILED', `release ${target.tag} of ${target.owner}/${target.repo} already has an asset ${name} (${existing.digest ?? `${existing.size} bytes, no digest`}), not this artifact's ${digest}: a published asset is never replaced`);
  }
  const uploaded = asset.parse(
    await call(target, 'POST', `${target.uploadUrl.replace(/\/+$/, '')}/repos/${target.owner}/${target.repo}/releases/${rel.id}/assets?name=${encodeURIComponent(name)}`, bytes, 'application/octet-stream'),
  );
  return { uri: uploaded.browser_download_url, digest, reused: false, ...(rel.html_url ? { releaseUrl: rel.html_url } : {}) };
}

/** The release of the tag, created (not a draft, not a prerelease) when the tag has none yet. */
async function releaseOf(target: GithubTarget, repo: string): Promise<z.infer<typeof release>> {
  const found = await call(target, 'GET', `${repo}/releases/tags/${encodeURIComponent(target.tag)}`, undefined, undefined, true);
  if (found !== undefined) return release.parse(found);
  return release.parse(await call(target, 'POST', `${repo}/releases`, Buffer.from(JSON.stringify({ tag_name: target.tag, name: target.tag, draft: false, prerelease: false })), 'application/json'));
}

function call(target: GithubTarget, method: GithubCall['method'], url: string, body?: Buffer, type?: string, notFoundOk = false): Promise<unknown> {
  return githubCall({ method, url, token: target.token, body, type, notFoundOk, code: 'COPY_FAILED', hints: { 403: 'the token may not write releases of this repository' } });
}
