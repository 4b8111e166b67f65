import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForgeError } from '../lib/errors.ts';

/**
 * A phase's outputs: the regular files its steps leave in `$FORGE_OUTPUTS_DIR`, by file name,
 * which the dispatcher writes to its own outputs directory for the template to read. Bounded,
 * and plain names only: a repository's step cannot make the dispatcher write elsewhere.
 */
export const MAX_OUTPUT_FILES = 64;
export const MAX_OUTPUTS_BYTES = 16 * 1024 * 1024;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function collectOutputs(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort();
  if (names.length > MAX_OUTPUT_FILES) throw new ForgeError('OUTPUT_TOO_LARGE', `the steps left ${names.length} files in FORGE_OUTPUTS_DIR (at most ${MAX_OUTPUT_FILES})`);
  const out: Record<string, string> = {};
  let total = 0;
  for (const name of names) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (!NAME.test(name) || !info.isFile()) throw new ForgeError('OUTPUT_TOO_LARGE', `FORGE_OUTPUTS_DIR/${name}: outputs must be regular files with plain names (letters, digits, . _ -)`);
    total += info.size;
    if (total > MAX_OUTPUTS_BYTES) throw new ForgeError('OUTPUT_TOO_LARGE', `the outputs in FORGE_OUTPUTS_DIR exceed ${MAX_OUTPUTS_BYTES / 1024 / 1024} MiB (at ${name})`);
    out[name] = await readFile(path, 'utf8');
  }
  return out;
}
