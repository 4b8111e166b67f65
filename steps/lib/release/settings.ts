import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { environmentsSchema } from './environment-policy.ts';

/**
 * What the artifact and release pools' workers need to release: the registries, the keys they
 * sign with (files mounted from Secrets; passwords from files, never from the job), the GitOps
 * repository and the environments. Generated from the platform config's `release` section as the
 * `forge-release-settings` ConfigMap (cdk8s/charts/worker-pools.ts), read with `--release-settings`.
 */
const registry = z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, 'must be a registry host with an optional path');
const key = z.strictObject({ key: z.string().min(1), passwordFile: z.string().min(1).optional() });

export const releaseSettingsSchema = z.strictObject({
  registries: z.strictObject({ incoming: registry, trusted: registry, tracking: registry, release: registry }),
  /** The build identity (artifact pool): signs produced images and tracking images. */
  buildKey: key.optional(),
  /** The release identity (release pool): signs Release OCI images. */
  releaseKey: key.optional(),
  transparencyLog: z.boolean().default(false),
  gitops: z.strictObject({
    url: z.string().min(1),
    branch: z.string().min(1).default('main'),
    author: z.strictObject({ name: z.string().min(1), email: z.string().min(3) }).default({ name: 'forge-workflows', email: 'forge@forge.invalid' }),
  }).optional(),
  environments: environmentsSchema,
  /** Who builds, in provenance (`runDetails.builder.id`). */
  builder: z.string().min(1).default('https://forge-workflows.dev/workers/artifact'),
  /** Passed to producers as FORGE_BASE_IMAGE. */
  baseImage: z.string().min(1).optional(),
});
export type ReleaseSettings = z.infer<typeof releaseSettingsSchema>;

export async function loadReleaseSettings(file: string): Promise<ReleaseSettings> {
  const text = await readFile(file, 'utf8').catch((e: Error) => {
    throw new ForgeError('INVALID_CONFIG', `cannot read the release settings ${file}: ${e.message}`);
  });
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (e) {
    throw new ForgeError('INVALID_CONFIG', `release settings ${file} are not YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = releaseSettingsSchema.safeParse(value);
  if (!parsed.success) throw new ForgeError('INVALID_CONFIG', `invalid release settings ${file}`, parsed.error.issues.map((i) => ({ file, field: i.path.join('.') || '(root)', message: i.message })));
  return parsed.data;
}

/** Signing options of one identity: the key file and its password read from its file. */
export async function signingOptions(k: z.infer<typeof key> | undefined, transparencyLog: boolean, what: string): Promise<{ key: string; password: string; transparencyLog: boolean }> {
  if (!k) throw new ForgeError('INVALID_CONFIG', `the release settings name no ${what} key: this pool cannot sign (platform config release.${what === 'build' ? 'buildSigningKey' : 'releaseSigningKey'})`);
  const password = k.passwordFile ? (await readFile(k.passwordFile, 'utf8')).replace(/\r?\n$/, '') : '';
  return { key: k.key, password, transparencyLog };
}
