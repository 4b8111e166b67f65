import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { openDatabase } from '../lib/records/db.ts';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const TRUSTED = 'registry.example.test:5000/trusted/app';

/** `forge record …` in its own process, the way a step container runs it. */
function forgeRecord(args: string[], env: Record<string, string> = {}) {
  const script = 'const { main } = await import(process.argv[1]); await main(process.argv.slice(2));';
  return execa('node', ['--import', 'tsx', '--input-type=module', '-e', script, cli, ...args], {
    reject: false,
    env: { FORGE_DATABASE_URL: '', FORGE_STATE_DIR: '', ARGO_WORKFLOW_NAME: '', ARGO_WORKFLOW_UID: '', ...env },
  });
}

describe('forge record', () => {
  let dir: string;
  let server: PostgresServer | undefined;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-record-cli-'));
    server = await startPostgres();
    url = await server.createDatabase('record_cli');
    // The owner migrates (forge records migrate); the step only checks the schema.
    await (await openDatabase({ url, schema: 'migrate' })).close();
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its usage', async () => {
    const r = await forgeRecord(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: forge record/);
    expect(r.stdout).toContain('--trusted-reference REF');
  });

  it('exits 2 on bad arguments, before opening any database', async () => {
    // Four processes at once: each pays node + tsx start-up, none gets as far as a database.
    const [unpinned, badDigest, badJson, noMessage] = await Promise.all([
      forgeRecord(['--trusted-reference', `${TRUSTED}:1.0`, '--source-reference', 'in/app:1.0']),
      forgeRecord(['--trusted-reference', `${TRUSTED}@sha256:1234`, '--source-reference', 'in/app:1.0']),
      forgeRecord(['--trusted-reference', `${TRUSTED}@${digest('a')}`, '--source-reference', 'in/app:1.0', '--signer', '{nope']),
      forgeRecord(['--outcome', 'refused', '--source-reference', 'in/app:1.0']),
    ]);
    expect(unpinned.exitCode).toBe(2);
    expect(unpinned.stderr).toMatch(/INVALID_ARGS: reference ".*:1.0" is not pinned: expected REPOSITORY@sha256:<64 hex>/);
    expect(badDigest.exitCode).toBe(2);
    expect(badDigest.stderr).toMatch(/digest "sha256:1234" is not sha256:<64 lowercase hex characters>/);
    expect(badJson.exitCode).toBe(2);
    expect(badJson.stderr).toMatch(/--signer is not valid JSON/);
    expect(noMessage.exitCode).toBe(2);
    expect(noMessage.stderr).toMatch(/--message is required to record a refused promotion/);
  });

  it('records one promotion from three concurrent processes against a server, and writes the Argo outputs', async () => {
    const args = (i: number) => [
      '--trusted-reference',
      `${TRUSTED}@${digest('a')}`,
      '--source-reference',
      'incoming.example.test/app:1.2.3',
      '--signer',
      '{"identity":"ci@example.test"}',
      '--scan-summary',
      '{"critical":0,"high":0}',
      '--policy-results',
      '[{"check":"non-root","passed":true}]',
      '--attestation-digest',
      digest('b'),
      '--outputs-dir',
      join(dir, `out-${i}`),
    ];
    const runs = await Promise.all([0, 1, 2].map((i) => forgeRecord(args(i), { FORGE_DATABASE_URL: url, ARGO_WORKFLOW_NAME: `wf-${i}`, ARGO_WORKFLOW_UID: `uid-${i}` })));
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    const results = runs.map((r) => JSON.parse(r.stdout));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.map((r) => r.outcome).sort()).toEqual(['already-promoted', 'already-promoted', 'promoted']);
    expect(results[0]).toMatchObject({ trustedReference: `${TRUSTED}@${digest('a')}`, database: { kind: 'postgres', location: url.replace('forge@', '') } });
    for (const [i, r] of results.entries()) {
      expect(await readFile(join(dir, `out-${i}`, 'record-id'), 'utf8')).toBe(r.id);
      expect(await readFile(join(dir, `out-${i}`, 'created'), 'utf8')).toBe(String(r.created));
      expect(await readFile(join(dir, `out-${i}`, 'event-id'), 'utf8')).toBe(r.eventId);
    }
  });

  it('records a refusal in the audit trail', async () => {
    const r = await forgeRecord(
      [
        '--outcome',
        'refused',
        '--source-reference',
        `incoming.example.test/app@${digest('c')}`,
        '--check',
        'signature',
        '--message',
        'no valid signature',
        '--details',
        '{"layout":"legacy"}',
        '--outputs-dir',
        join(dir, 'out-refused'),
      ],
      { FORGE_DATABASE_URL: url },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ outcome: 'refused', id: '', created: false, eventId: expect.stringMatching(/^\d+$/) });
    expect(await readFile(join(dir, 'out-refused', 'record-id'), 'utf8')).toBe('');
    expect(await readFile(join(dir, 'out-refused', 'created'), 'utf8')).toBe('false');
  });

  it('defaults to PGlite under --state-dir (FORGE_STATE_DIR)', async () => {
    const stateDir = join(dir, 'state');
    // --signer as forge verify outputs it (text, not JSON); --outcome '' is Argo's "not set".
    const args = ['--trusted-reference', `${TRUSTED}@${digest('d')}`, '--source-reference', 'incoming.example.test/app:2.0.0', '--signer', 'key:/keys/cosign.pub', '--outcome', ''];
    const first = await forgeRecord(args, { FORGE_STATE_DIR: stateDir });
    expect(first.exitCode, first.stderr).toBe(0);
    const again = await forgeRecord([...args, '--state-dir', stateDir]);
    expect(again.exitCode, again.stderr).toBe(0);
    const [a, b] = [JSON.parse(first.stdout), JSON.parse(again.stdout)];
    expect(a).toMatchObject({ created: true, outcome: 'promoted', database: { kind: 'pglite', location: join(stateDir, 'records') } });
    expect(a.eventId).toMatch(/^\d+$/);
    expect(b).toMatchObject({ id: a.id, created: false, outcome: 'already-promoted' });
  }, 120_000); // two processes, the first runs PGlite's initdb
});
