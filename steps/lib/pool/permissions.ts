import { EVENTS_PREFIX, JOB_BUCKET, jobEvents, LOG_STREAM, POOLS, RESULT_BUCKET, RUN_BUCKET, runEvents, type PoolName } from './pools.ts';

/**
 * Who may do what on NATS (nats-server `authorization.users[].permissions`), written next to the
 * protocol they allow so the two cannot drift: a pool's dispatcher user may queue jobs on that
 * pool only, read their state, results and logs, and clear a run's cancel; a pool's worker user may take that pool's jobs
 * only, and write states, results, logs and run cancels. Neither may read another pool's queue.
 */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

const API = '$JS.API';
const kv = (bucket: string) => `KV_${bucket}`;
const obj = (bucket: string) => `OBJ_${bucket}`;

/** Read a stream's messages by subject (KV get, object store meta) and follow one with an ordered consumer. */
function readStream(stream: string): string[] {
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.>`,
    `${API}.CONSUMER.DELETE.${stream}.>`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
  ];
}

const common = [`${API}.INFO`, ...readStream(kv(JOB_BUCKET)), ...readStream(kv(RUN_BUCKET)), ...readStream(obj(RESULT_BUCKET)), ...readStream(LOG_STREAM.stream)];

export function dispatcherPermissions(pool: PoolName): NatsPermissions {
  const p = POOLS[pool];
  return {
    publish: {
      allow: [
        `${p.subjectPrefix}.>`,
        `${API}.STREAM.INFO.${p.stream}`,
        `${API}.STREAM.MSG.GET.${p.stream}`,
        ...common,
        `$KV.${JOB_BUCKET}.>`,
        // Clears its run's cancel when it runs a failed task again (`argo retry`).
        `$KV.${RUN_BUCKET}.>`,
        jobEvents('>'),
        runEvents('>'),
      ],
    },
    // Logs live on their subject (a new job's) as well as through the stream (a replay).
    subscribe: { allow: ['_INBOX.>', `${EVENTS_PREFIX}.>`, `${LOG_STREAM.subjectPrefix}.>`] },
  };
}

export function workerPermissions(pool: PoolName): NatsPermissions {
  const p = POOLS[pool];
  // The worker sets up its own pool's stream and consumer and the shared buckets when missing
  // (and checks them when present); it may not touch another pool's.
  const own = (stream: string) => [`${API}.STREAM.CREATE.${stream}`, `${API}.STREAM.INFO.${stream}`];
  return {
    publish: {
      allow: [
        ...own(p.stream),
        `${API}.CONSUMER.CREATE.${p.stream}.${p.consumer}`,
        `${API}.CONSUMER.CREATE.${p.stream}.${p.consumer}.>`,
        `${API}.CONSUMER.DURABLE.CREATE.${p.stream}.${p.consumer}`,
        `${API}.CONSUMER.INFO.${p.stream}.${p.consumer}`,
        `${API}.CONSUMER.MSG.NEXT.${p.stream}.${p.consumer}`,
        `$JS.ACK.${p.stream}.${p.consumer}.>`,
        ...own(LOG_STREAM.stream),
        ...own(kv(JOB_BUCKET)),
        ...own(kv(RUN_BUCKET)),
        ...own(obj(RESULT_BUCKET)),
        ...common,
        `$KV.${JOB_BUCKET}.>`,
        `$KV.${RUN_BUCKET}.>`,
        `$O.${RESULT_BUCKET}.>`,
        `${LOG_STREAM.subjectPrefix}.>`,
        `${EVENTS_PREFIX}.>`,
      ],
    },
    subscribe: { allow: ['_INBOX.>', `${EVENTS_PREFIX}.>`] },
  };
}

/** NATS user names: `dispatch-<pool>` and `worker-<pool>`. */
export const dispatcherUser = (pool: PoolName) => `dispatch-${pool}`;
export const workerUser = (pool: PoolName) => `worker-${pool}`;
/** The environment variable holding a user's password in the NATS server's container. */
export const passwordVariable = (user: string) => `NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;

/** Every user of the pools, in a stable order. */
export function natsUsers(): string[] {
  return (Object.keys(POOLS) as PoolName[]).flatMap((pool) => [dispatcherUser(pool), workerUser(pool)]);
}

/** Where a pod finds its NATS password (a Secret key mounted as a file). */
export const NATS_PASSWORD_FILE = '/var/run/forge/nats/password';

/** The `authorization` block of nats.conf: every pool's dispatcher and worker user, passwords from the environment. */
export function authorizationConf(): string {
  const users = (Object.keys(POOLS) as PoolName[]).flatMap((pool) => [
    { user: dispatcherUser(pool), permissions: dispatcherPermissions(pool) },
    { user: workerUser(pool), permissions: workerPermissions(pool) },
  ]);
  const lines = users.map((u) => `    { user: "${u.user}", password: $${passwordVariable(u.user)}, permissions: ${JSON.stringify(u.permissions)} }`);
  return ['authorization {', '  users: [', lines.join(',\n'), '  ]', '}'].join('\n');
}
