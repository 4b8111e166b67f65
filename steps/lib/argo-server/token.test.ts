import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, thrown } from '../../../test/helpers/forge-error.ts';
import { connect, serverBase } from './http.ts';
import { loadToken } from './token.ts';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'forge-token-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('the Argo Server token and URL', () => {
  it('reads --token-file, else ARGO_TOKEN, dropping a leading "Bearer "', async () => {
    await writeFile(join(dir, 't'), 'Bearer abc.def-123\n');
    expect(await loadToken(join(dir, 't'), {})).toBe('abc.def-123');
    expect(await loadToken(undefined, { ARGO_TOKEN: 'xyz' })).toBe('xyz');
    expect(await loadToken(undefined, {})).toBeUndefined();
  });

  it('refuses a missing, empty, huge or header-breaking token without quoting it', async () => {
    expect((await failure(loadToken(join(dir, 'none'), {}))).message).toContain('no such file');
    await writeFile(join(dir, 'empty'), '\n');
    expect((await failure(loadToken(join(dir, 'empty'), {}))).message).toContain('is empty');
    await writeFile(join(dir, 'big'), 'a'.repeat(70_000));
    expect((await failure(loadToken(join(dir, 'big'), {}))).message).toContain('too large');
    const e = await failure(loadToken(undefined, { ARGO_TOKEN: 'secret-part1\r\nX-Evil: 1' }));
    expect(e.message).toContain('contents not shown');
    expect(e.format()).not.toContain('secret-part1');
  });

  it('redacts the token, also URL-encoded, from any text', () => {
    const conn = connect({ server: 'http://127.0.0.1:1', token: 'tok/en+1' });
    expect(conn.redact('a tok/en+1 b tok%2Fen%2B1 c')).toBe('a *** b *** c');
  });

  it('takes an http(s) server URL without credentials, query or fragment', () => {
    expect(serverBase('https://argo.example.com/base/')).toBe('https://argo.example.com/base');
    expect(thrown(() => serverBase('https://u:p@argo.example.com')).message).toContain('must not carry credentials');
    expect(thrown(() => serverBase('ftp://argo.example.com')).message).toContain('http:// or https://');
    expect(thrown(() => serverBase('https://argo.example.com/?x=1')).message).toContain('no query');
    expect(thrown(() => serverBase('argo:2746')).code).toBe('INVALID_ARGS');
  });
});
