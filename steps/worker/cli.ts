import { hostname } from 'node:os';
import { z } from 'zod';
import { optionsOf, parseToolArgs, runMain } from '../lib/cli.ts';
import { findExecutable } from '../lib/tools.ts';
import { createLogger } from '../lib/log.ts';
import { connectNats, NATS_USAGE, natsOptionsSchema, natsSettings } from '../lib/pool/connect.ts';
import { DEFAULT_ACK_WAIT_MS, POOL_NAMES, poolSpec } from '../lib/pool/pools.ts';
import { ensurePool } from '../lib/pool/setup.ts';
import { openDatabase } from '../lib/records/db.ts';
import { ExecutionRecords } from '../lib/records/executions.ts';
import { loadReleaseSettings } from '../lib/release/settings.ts';
import { Worker } from './worker.ts';

export const usage = `Usage: forge worker --pool NAME [options]

A hot pool worker: pulls one job per free slot from the pool's JetStream consumer, runs it in a
worktree of its git cache, streams its log, stores its result and only then acknowledges it.
SIGTERM drains: no new jobs, running ones get --grace-seconds, the rest go back to the pool.

Options (each may also come from FORGE_<OPTION>):
  --pool NAME              ${POOL_NAMES.join(' | ')}
  --slots N                jobs run at once (default 2)
  --name NAME              worker name in logs and results (default: the host name)
  --cache-dir DIR          git cache: bare mirrors and per-job worktrees (default /cache)
  --cache-max-gib N        evict least-recently-used mirrors above this size (default 50)
  --secrets-dir DIR        mounted Secrets for the kubernetes provider (default /var/run/forge/secrets)
  --grace-seconds N        time running jobs get to finish on SIGTERM (default 25)
  --ack-wait-seconds N     redelivery after a worker goes silent (default ${DEFAULT_ACK_WAIT_MS / 1000})
  --replicas N             JetStream replicas of the pool's streams (default 1)
  --metrics-port N         serve Prometheus /metrics and /healthz on this port (default: off)
  --database-url URL       PostgreSQL of the records (FORGE_DATABASE_URL, from a Secret): run, task
                           and step executions are written there before a job is acknowledged
  --release-settings FILE  release settings (artifact and release pools; the forge-release-settings
                           ConfigMap generated from the platform config's release section)
  --setup-only             create or check the pool's streams, consumer and buckets, then exit
${NATS_USAGE}`;

const schema = z.object({
  pool: z.enum(POOL_NAMES),
  slots: z.coerce.number().int().min(1).max(64).default(2),
  name: z.string().min(1).optional(),
  'cache-dir': z.string().default('/cache'),
  'cache-max-gib': z.coerce.number().positive().default(50),
  'secrets-dir': z.string().default('/var/run/forge/secrets'),
  'grace-seconds': z.coerce.number().int().min(0).max(3600).default(25),
  'ack-wait-seconds': z.coerce.number().int().min(5).max(3600).default(DEFAULT_ACK_WAIT_MS / 1000),
  replicas: z.coerce.number().int().min(1).max(5).default(1),
  'metrics-port': z.coerce.number().int().min(1).max(65535).optional(),
  'setup-only': z.boolean().optional(),
  'database-url': z.string().optional(),
  'release-settings': z.string().optional(),
  ...natsOptionsSchema,
  help: z.boolean().optional(),
});

export async function main(argv: string[]): Promise<void> {
  const log = createLogger('worker', process.env.FORGE_LOG_LEVEL ?? 'info');
  await runMain(log, async () => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(usage);
      return;
    }
    const { values: v } = parseToolArgs(argv, optionsOf(schema.shape, { help: 'h' }), schema);
    const pool = poolSpec(v.pool);
    const name = v.name ?? hostname();
    // Opened (and its schema checked) before any job is taken: a worker that cannot record takes none.
    const db = v['database-url'] && !v['setup-only'] ? await openDatabase({ url: v['database-url'], schema: 'check', maxConnections: v.slots + 1 }) : undefined;
    if (!db && !v['setup-only']) log.warn('no --database-url: task executions are not recorded');
    const nc = await connectNats(natsSettings(v, `forge-worker-${pool.name}-${name}`)).catch(async (e) => {
      await db?.close();
      throw e;
    });
    if (v['setup-only']) {
      try {
        await ensurePool(nc, pool, { ackWaitMs: v['ack-wait-seconds'] * 1000, replicas: v.replicas });
      } finally {
        await nc.close();
      }
      process.stdout.write(`pool ${pool.name}: stream ${pool.stream}, consumer ${pool.consumer} and the job buckets are in place\n`);
      return;
    }
    const settings = v['release-settings'] && !v['setup-only'] ? await loadReleaseSettings(v['release-settings']).catch(async (e) => {
      await db?.close();
      throw e;
    }) : undefined;
    const worker = new Worker({
      records: db ? new ExecutionRecords(db) : undefined,
      release: { settings, db },
      env: settings?.baseImage ? { ...process.env, FORGE_BASE_IMAGE: settings.baseImage } : process.env,
      nc, pool, name, slots: v.slots, log,
      cacheDir: v['cache-dir'], cacheMaxBytes: v['cache-max-gib'] * 1024 ** 3, secretsDir: v['secrets-dir'],
      earthly: findExecutable('earthly') ?? 'earthly',
      ackWaitMs: v['ack-wait-seconds'] * 1000, replicas: v.replicas,
    });
    const server = v['metrics-port'] ? await worker.metrics.serve(v['metrics-port'], '0.0.0.0', () => worker.accepting) : undefined;
    try {
      await worker.start();
    } catch (e) {
      server?.close();
      await nc.close();
      await db?.close();
      throw e;
    }
    await new Promise<void>((resolve) => {
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        process.once(sig, () => {
          log.info({ signal: sig, running: worker.busy, graceSeconds: v['grace-seconds'] }, 'draining');
          resolve();
        });
      }
    });
    await worker.drain(v['grace-seconds'] * 1000);
    server?.close();
    await nc.drain().catch(() => nc.close());
    await db?.close();
    log.info('worker stopped');
  });
}
