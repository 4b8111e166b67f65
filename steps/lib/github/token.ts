import { readFile, stat } from 'node:fs/promises';
import { ForgeError } from '../errors.ts';

const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * The GitHub token: `--token-file` (a mounted Secret, a file a CI step wrote) or else GITHUB_TOKEN
 * (what Actions and the exit handler's Secret give). Undefined when neither is set. Errors name the
 * source, never the contents.
 */
export async function loadGithubToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env, option = '--token-file'): Promise<string | undefined> {
  let raw: string | undefined;
  const source = tokenFile ? `${option} ${tokenFile}` : 'GITHUB_TOKEN';
  if (tokenFile) {
    const info = await stat(tokenFile).catch(() => undefined);
    if (!info?.isFile()) throw new ForgeError('INVALID_ARGS', `${source}: no such file`, [{ file: tokenFile, message: 'not found' }]);
    if (info.size > MAX_TOKEN_BYTES) throw new ForgeError('INVALID_ARGS', `${source}: ${info.size} bytes is too large for a token (at most ${MAX_TOKEN_BYTES})`);
    raw = await readFile(tokenFile, 'utf8');
  } else {
    raw = env.GITHUB_TOKEN;
  }
  const token = raw?.trim().replace(/^(Bearer|token)\s+/i, '');
  if (!token) {
    if (tokenFile) throw new ForgeError('INVALID_ARGS', `${source} is empty`);
    return undefined;
  }
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ForgeError('INVALID_ARGS', `${source}: the token holds spaces, line breaks or non-ASCII characters (contents not shown)`);
  return token;
}
