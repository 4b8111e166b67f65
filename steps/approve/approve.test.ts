import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';

// `forge approve` as a person runs it, on the embedded records.
const forge = fileURLToPath(new URL('../../bin/forge.mjs', import.meta.url));
let state: string;
const sha = 'c'.repeat(40);
const run = (args: string[]) => execa(forge, ['approve', ...args, '--state-dir', state], { reject: false });

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), 'forge-approve-'));
  const db = await openDatabase({ dataDir: defaultDataDir(state) });
  await new ReleaseRecords(db).recordRelease({ repository: 'acme/monorepo', project: 'api', commit: sha, trigger: 'tag', tag: 'api/v2.0.0' });
  await db.close();
}, 120_000);
afterAll(async () => {
  await rm(state, { recursive: true, force: true });
});

describe('forge approve', () => {
  test('approves by alias, lists, revokes', async () => {
    const a = await run(['production', 'acme/monorepo', 'api', 'api/v2.0.0', '--by', 'bob@example.test', '--reason', 'CAB-7', '--output', 'json']);
    expect(a.exitCode, a.stderr).toBe(0);
    const approval = JSON.parse(a.stdout) as { id: string; status: string; commit: string };
    expect(approval).toMatchObject({ status: 'active', commit: sha });
    const listed = await run(['--list', 'production', 'acme/monorepo', 'api', '1']);
    expect(listed.stdout).toMatch(new RegExp(`^${approval.id} active  production cccccccccccc by bob@example.test at .* until .*: CAB-7$`, 'm'));
    const revoked = await run(['--revoke', approval.id, '--by', 'carol@example.test', '--reason', 'regression']);
    expect(revoked.stdout).toMatch(/revoked production .*\(revoked by carol@example.test\)/);
  }, 60_000);

  test('refuses without a reason, or for a release that does not exist', async () => {
    const noReason = await run(['production', 'acme/monorepo', 'api', '1', '--by', 'bob']);
    expect(noReason.exitCode).toBe(1);
    expect(noReason.stderr).toMatch(/invalid approval[\s\S]*reason: an approval says why/);
    const missing = await run(['production', 'acme/monorepo', 'api', 'main-9', '--by', 'bob', '--reason', 'x']);
    expect(missing.stderr).toContain('no release main-9 of acme/monorepo/api (an alias, a number or a commit SHA prefix)');
  }, 60_000);
});
