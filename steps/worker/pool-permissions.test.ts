import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startNats, type NatsServer } from '../local/nats.ts';
import { authorizationConf, dispatcherUser, passwordVariable, workerUser } from '../lib/pool/permissions.ts';
import { POOLS, type PoolName } from '../lib/pool/pools.ts';
import { phaseTask, poolRepo, runDispatch, startWorker, type WorkerProcess } from '../../test/helpers/pool.ts';
import type { TempRepo } from '../../test/helpers/git-repo.ts';

// The users the NATS chart generates, on a real nats-server: each pool's dispatcher and worker
// can do their work, and nothing on another pool's queue.
let nats: NatsServer;
let tmp: string;
let repo: TempRepo;
let worker: WorkerProcess;
const password = (user: string) => `pw-${user}-${user.length}`;
const users = (Object.keys(POOLS) as PoolName[]).flatMap((p) => [dispatcherUser(p), workerUser(p)]);
const files: Record<string, string> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-pool-perm-'));
  for (const u of users) {
    files[u] = join(tmp, u);
    await writeFile(files[u]!, password(u));
  }
  nats = await startNats({ conf: authorizationConf(), env: Object.fromEntries(users.map((u) => [passwordVariable(u), password(u)])) });
  repo = await poolRepo({ app: { lint: { ok: { args: ['print=1'] } } } });
  worker = await startWorker({ natsUrl: nats.url, pool: 'ci', name: 'perm', args: ['--nats-user', workerUser('ci'), '--nats-password-file', files[workerUser('ci')]!] });
  await worker.ready;
}, 60_000);

afterAll(async () => {
  await worker?.cleanup();
  await nats?.stop();
  await repo?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const as = (user: string): Promise<NatsConnection> => connect({ servers: nats.url, user, pass: password(user), maxReconnectAttempts: 0 });
const refusal = (p: Promise<unknown>) => p.then(() => 'allowed', (e: Error) => e.message);

describe('NATS users of the pools', () => {
  test("a pool's dispatcher and worker users run a job end to end", async () => {
    const { code, output } = await runDispatch(['phase', '--run-id', 'run-perm', '--repo-url', `file://${repo.dir}`, '--commit', repo.commit, '--task', phaseTask('lint', 'app'), '--nats-url', nats.url, '--nats-user', dispatcherUser('ci'), '--nats-password-file', files[dispatcherUser('ci')]!]).done;
    expect(code, output).toBe(0);
    expect(output).toContain('ok line 1');
    expect(worker.output()).not.toMatch(/permission|violation/i);
    // Everything the two did was allowed: the server logged no violation.
    expect(await readFile(nats.logFile, 'utf8')).not.toMatch(/Violation/);
  });

  test("a dispatcher may not queue on another pool's stream nor take jobs", async () => {
    const nc = await as(dispatcherUser('ci'));
    try {
      const js = jetstream(nc);
      expect(await refusal(js.publish('pipeline.releases.run.x', '{}'))).toMatch(/permission/i);
      expect(await refusal(js.consumers.get(POOLS.ci.stream, POOLS.ci.consumer).then((c) => c.next({ expires: 1000 })))).toMatch(/permission|timeout/i);
    } finally {
      await nc.close();
    }
    const log = await readFile(nats.logFile, 'utf8');
    expect(log).toMatch(/user:dispatch-ci" - Publish Violation - Subject "pipeline\.releases\.run\.x"/);
    expect(log).toMatch(/user:dispatch-ci" - Publish Violation - Subject "\$JS\.API\.CONSUMER\.(INFO|MSG\.NEXT)\.pipeline-tasks\.ci-consumer"/);
  });

  test("a worker may not take another pool's jobs nor queue any", async () => {
    const nc = await as(workerUser('ci'));
    try {
      const js = jetstream(nc);
      expect(await refusal(js.publish('pipeline.tasks.run.x', '{}'))).toMatch(/permission/i);
      expect(await refusal(js.consumers.get(POOLS.release.stream, POOLS.release.consumer).then((c) => c.next({ expires: 1000 })))).toMatch(/permission|timeout/i);
    } finally {
      await nc.close();
    }
    const log = await readFile(nats.logFile, 'utf8');
    expect(log).toMatch(/user:worker-ci" - Publish Violation - Subject "pipeline\.tasks\.run\.x"/);
    expect(log).toMatch(/user:worker-ci" - Publish Violation - Subject "\$JS\.API\.CONSUMER\.(INFO|MSG\.NEXT)\.pipeline-releases\.release-consumer"/);
  });

  test('without a user, or with a wrong password, nothing connects', async () => {
    expect(await refusal(connect({ servers: nats.url, maxReconnectAttempts: 0 }))).toMatch(/authorization/i);
    expect(await refusal(connect({ servers: nats.url, user: workerUser('ci'), pass: 'wrong', maxReconnectAttempts: 0 }))).toMatch(/authorization/i);
  });
});
