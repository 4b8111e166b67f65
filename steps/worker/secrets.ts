import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForgeError } from '../lib/errors.ts';

/**
 * Resolves a step's secret references on the worker, at the point of use (reference §6, "Secrets
 * contract"): configuration carries references only, values live in the step's environment for
 * its run and never reach a payload, a log line (the log publisher masks them) or a record.
 *
 * - `env`: the worker's own variable `path`, which must start with `FORGE_SECRET_` — a repository
 *   cannot read the worker's other variables (its NATS credentials, say);
 * - `kubernetes`: the file `<secretsDir>/<namespace>/<secretName>/<key>`, where the pool's chart
 *   mounts the Secrets the platform team grants that pool.
 */
export interface SecretRef {
  provider: string;
  path?: string;
  secretName?: string;
  key?: string;
  namespace?: string;
  name?: string;
}

export interface ResolvedSecret {
  /** The variable (script) or Earthly secret id the step receives it as. */
  id: string;
  value: string;
}

const ENV_PREFIX = 'FORGE_SECRET_';
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** The id a secret is exposed under: its `name`, else its key or path, as an environment variable name. */
export function secretId(ref: SecretRef): string {
  const base = ref.name ?? ref.key ?? ref.path?.split('/').pop() ?? ref.secretName ?? 'SECRET';
  const id = base.replace(/^FORGE_SECRET_/, '').replace(/[^A-Za-z0-9_]/g, '_').toUpperCase();
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

export async function resolveSecret(ref: SecretRef, where: string, env: NodeJS.ProcessEnv, secretsDir: string): Promise<ResolvedSecret> {
  const fail = (message: string) => new ForgeError('JOB_FAILED', `secret of ${where} (provider ${ref.provider}): ${message}`);
  switch (ref.provider) {
    case 'env': {
      const variable = ref.path ?? '';
      if (!variable.startsWith(ENV_PREFIX)) throw fail(`path must name a worker variable starting with ${ENV_PREFIX}, got "${variable}"`);
      const value = env[variable];
      if (value === undefined) throw fail(`the worker has no variable ${variable}`);
      return { id: secretId(ref), value };
    }
    case 'kubernetes': {
      const parts = [ref.namespace, ref.secretName, ref.key];
      if (!parts.every((p) => p !== undefined && SEGMENT.test(p))) throw fail('namespace, secretName and key must all be set to plain names');
      const file = join(secretsDir, ...(parts as string[]));
      const value = await readFile(file, 'utf8').catch(() => {
        throw fail(`${ref.namespace}/${ref.secretName} key ${ref.key} is not mounted on this pool (${file})`);
      });
      return { id: secretId(ref), value: value.replace(/\n$/, '') };
    }
    default:
      throw fail(`provider "${ref.provider}" is not available on this worker (available: env, kubernetes)`);
  }
}
