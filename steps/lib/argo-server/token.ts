import { readFile, stat } from 'node:fs/promises';
import { ForgeError } from '../errors.ts';

const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * The bearer token for the Argo Server: `--token-file` (a mounted Secret, a file a CI step wrote)
 * or else ARGO_TOKEN (what the argo CLI reads; a leading `Bearer ` is dropped). None at all is
 * allowed: a server run with `--auth-mode=server` needs no token. Errors never quote the token.
 */
export async function loadToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  let raw: string | undefined;
  let source: string;
  if (tokenFile) {
    source = `--token-file ${tokenFile}`;
    const info = await stat(tokenFile).catch(() => undefined);
    if (!info?.isFile()) throw new ForgeError('INVALID_ARGS', `${source}: no such file`, [{ file: tokenFile, message: 'not found' }]);
    if (info.size > MAX_TOKEN_BYTES) throw new ForgeError('INVALID_ARGS', `${source}: ${info.size} bytes is too large for a token (at most ${MAX_TOKEN_BYTES})`);
    raw = await readFile(tokenFile, 'utf8');
  } else {
    source = 'ARGO_TOKEN';
    raw = env.ARGO_TOKEN;
  }
  const token = raw?.trim().replace(/^Bearer\s+/i, '');
  if (!token) {
    if (tokenFile) throw new ForgeError('INVALID_ARGS', `${source} is empty`);
    return undefined;
  }
  // Printable ASCII without spaces: anything else would corrupt the Authorization header.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new ForgeError('INVALID_ARGS', `${source}: the token holds spaces, line breaks or non-ASCII characters (contents not shown)`);
  return token;
}
