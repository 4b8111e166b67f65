import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../test/helpers/postgres.ts';
import { forge } from './forge-process.ts';

/**
 * Issue 8 case 8: no database password in any output. Each case runs the real CLI process as a
 * step pod does (ARGO_NODE_ID set, so it logs JSON and writes a termination message and output
 * files) and searches everything it wrote — stdout, stderr, the termination file, the outputs —
 * for the password and for every piece of it.
 */

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const STEP_PW = 'Corr3ctHorse';

describe('database URLs with passwords: never in logs, errors, outputs or the termination message', () => {
  let server: PostgresServer | undefined;
  let dir: string;
  let host: string;
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forge-secrets-'));
    server = await startPostgres({ passwords: true });
    await server.query(`CREATE ROLE forge_step LOGIN PASSWORD '${STEP_PW}'`);
    const url = await server.createDatabase('records');
    host = new URL(url).host;
    const migrated = await forge(['records', 'migrate', '--database-url', url, '--runtime-role', 'forge_step']);
    expect(migrated.exitCode, migrated.stderr).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `forge <args>` as a step with `url` and returns everything it wrote, as one text. */
  async function everything(args: string[], url: string) {
    const run = `run-${n++}`;
    const outputs = join(dir, run, 'outputs');
    const termination = join(dir, run, 'termination-log');
    await mkdir(join(dir, run)); // as /dev/ exists in a pod
    const r = await forge([...args, '--outputs-dir', outputs], { FORGE_DATABASE_URL: url, ARGO_NODE_ID: 'forge-vp-1234', FORGE_TERMINATION_LOG: termination, FORGE_LOG_LEVEL: 'debug' });
    const files = await readdir(outputs).catch(() => [] as string[]);
    const written = await Promise.all([termination, ...files.map((f) => join(outputs, f))].map((f) => readFile(f, 'utf8').catch(() => '')));
    return { r, all: [r.stdout, r.stderr, ...written].join('\n'), termination: written[0]! };
  }

  const record = ['record', '--trusted-reference', `trusted.example.test/app@${digest('a')}`, '--source-reference', 'in.example.test/app:1'];
  const expectNone = (text: string, secret: string) => {
    for (const piece of [secret, ...secret.split(/[/?#@:]/).filter((p) => p.length >= 4)]) expect(text).not.toContain(piece);
  };

  it('connection refused, password in the query string', async () => {
    const secret = 'QueryS3cretPw';
    const { r, all, termination } = await everything(record, `postgresql://forge_step@127.0.0.1:1/records?password=${secret}`);
    expect(r.exitCode).toBe(1);
    expect(termination).toMatch(/^RECORD_FAILED: records database postgresql:\/\/127\.0\.0\.1:1\/records: connect ECONNREFUSED 127\.0\.0\.1:1/);
    expectNone(all, secret);
    console.info(`connection refused → ${termination}`);
  });

  it('bad password, in the userinfo and in the query string', async () => {
    for (const url of [`postgresql://forge_step:Wr0ngPassw0rd@${host}/records`, `postgresql://forge_step@${host}/records?sslmode=disable&password=Wr0ngPassw0rd`]) {
      const { r, all, termination } = await everything(record, url);
      expect(r.exitCode).toBe(1);
      expect(termination).toBe(`RECORD_FAILED: records database postgresql://${host}/records: password authentication failed for user "forge_step"\n  sqlstate: 28P01`);
      expectNone(all, 'Wr0ngPassw0rd');
      console.info(`bad password → ${termination}`);
    }
  });

  it('an unencoded @ in the password still parses (the last @ ends the userinfo): a wrong password, not shown', async () => {
    const { r, all, termination } = await everything(record, `postgresql://forge_step:S3cr@etTail@${host}/records`);
    expect(r.exitCode).toBe(1);
    expect(termination).toBe(`RECORD_FAILED: records database postgresql://${host}/records: password authentication failed for user "forge_step"\n  sqlstate: 28P01`);
    expectNone(all, 'S3cr@etTail');
  });

  it('a password with an unencoded / ? or # is refused without showing any of the URL', async () => {
    const passwords = ['ab/cdS3cretTail', '12/S3cretTail', 'S3cr?etTail', 'S3cr#etTail', '12?S3cretTail'];
    for (const pw of passwords) {
      const { r, all, termination } = await everything(record, `postgresql://forge_step:${pw}@${host}/records`);
      expect(r.exitCode, pw).toBe(2);
      expect(termination, pw).toMatch(
        /^INVALID_ARGS: the database URL \(--database-url, FORGE_DATABASE_URL\) is not a postgresql:\/\/USER:PASSWORD@HOST:PORT\/DATABASE URL \([^)]+\); percent-encode the characters \/ \? # @ : % in the user name and password \(encodeURIComponent\)\. The URL is not shown because it may hold a password\.$/,
      );
      expectNone(all, pw);
      expect(all).not.toContain('forge_step');
      console.info(`password ${pw} → ${termination}`);
    }
  });

  it('forge records migrate and forge promote refuse the same way', async () => {
    const promote = ['promote', 'incoming.example.test/team/app:1', '--incoming', 'incoming.example.test/team', '--trusted', 'trusted.example.test/team', '--key', 'cosign.pub'];
    const promoteArgs = [...promote, '--transparency-log', 'false', '--scanner-key', 'scanner.pub', '--promotion-key', 'k.key', '--promotion-pub', 'k.pub'];
    for (const args of [['records', 'migrate'], promoteArgs]) {
      const { r, all } = await everything(args, `postgresql://forge_owner:ab/cdS3cretTail@${host}/records`);
      expect(r.exitCode, args[0]).toBe(2);
      expect(r.stderr).toContain('error: INVALID_ARGS: the database URL (--database-url, FORGE_DATABASE_URL) is not a postgresql://USER:PASSWORD@HOST:PORT/DATABASE URL');
      expectNone(all, 'ab/cdS3cretTail');
    }
  });

  it('a working URL with the password in the query string: recorded, location printed without it', async () => {
    const { r, all } = await everything([...record, '--output', 'json'], `postgresql://forge_step@${host}/records?password=${STEP_PW}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'promoted', database: { kind: 'postgres', location: `postgresql://${host}/records` } });
    expect(r.stderr).toContain(`"location":"postgresql://${host}/records"`); // the step's JSON log line
    expectNone(all, STEP_PW);
  });

  it('a percent-encoded password with / works and is not shown', async () => {
    await server!.query(`ALTER ROLE forge_step PASSWORD 'sl/ash?S3cret'`);
    const { r, all } = await everything([...record, '--output', 'json'], `postgresql://forge_step:${encodeURIComponent('sl/ash?S3cret')}@${host}/records`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'already-promoted' });
    expectNone(all, 'sl/ash?S3cret');
    expectNone(all, encodeURIComponent('sl/ash?S3cret'));
  });
});
