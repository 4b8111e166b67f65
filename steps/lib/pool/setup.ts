import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { ForgeError } from '../errors.ts';
import { DEFAULT_ACK_WAIT_MS, JOB_BUCKET, LOG_STREAM, MAX_DELIVER, RESULT_BUCKET, RUN_BUCKET, STATE_TTL_MS, type PoolSpec } from './pools.ts';

/**
 * Creates a pool's JetStream resources when they are missing and checks them when they exist:
 * a stream or consumer whose settings drifted (someone edited it, or an older release made it)
 * is an error naming each differing field — never silently reused with the wrong limits.
 */
export interface PoolSetupOptions {
  /** Stream replicas (1 on a single server, 3 on a NATS cluster). */
  replicas?: number;
  ackWaitMs?: number;
}

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const notFound = (e: unknown, code: number) => e instanceof JetStreamApiError && e.code === code;

export function poolStreamConfig(pool: PoolSpec, opts: PoolSetupOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: pool.stream,
    subjects: [`${pool.subjectPrefix}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: nanos(pool.maxAgeMs),
    max_msgs: pool.maxMsgs,
    // A full queue refuses new jobs (the dispatcher says so) rather than dropping queued ones.
    discard: DiscardPolicy.New,
    duplicate_window: nanos(120_000),
    num_replicas: opts.replicas ?? 1,
  };
}

export function poolConsumerConfig(pool: PoolSpec, opts: PoolSetupOptions = {}): Partial<ConsumerConfig> {
  return {
    durable_name: pool.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: `${pool.subjectPrefix}.>`,
    max_deliver: MAX_DELIVER,
    ack_wait: nanos(opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_ack_pending: 1000,
  };
}

function logStreamConfig(opts: PoolSetupOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: LOG_STREAM.stream,
    subjects: [`${LOG_STREAM.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(LOG_STREAM.maxAgeMs),
    max_bytes: LOG_STREAM.maxBytes,
    max_msg_size: LOG_STREAM.maxMsgSize,
    discard: DiscardPolicy.Old,
    num_replicas: opts.replicas ?? 1,
  };
}

/** Fields of `want` whose value differs in `have`, as `field: have → want`. */
function drift(want: object, have: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(want)) {
    const actual = (have as Record<string, unknown>)[key];
    if (JSON.stringify(actual) !== JSON.stringify(value)) out.push(`${key}: ${JSON.stringify(actual)} (expected ${JSON.stringify(value)})`);
  }
  return out;
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name!);
    const differs = drift(config, info.config);
    if (differs.length > 0) {
      throw new ForgeError('POOL_DRIFT', `stream ${config.name} exists with other settings: delete it or restore them`, differs.map((message) => ({ field: `stream ${config.name}`, message })));
    }
  } catch (e) {
    if (!notFound(e, STREAM_NOT_FOUND)) throw e;
    await jsm.streams.add(config);
  }
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig>): Promise<void> {
  try {
    const info = await jsm.consumers.info(stream, config.durable_name!);
    const differs = drift(config, info.config);
    if (differs.length > 0) {
      throw new ForgeError('POOL_DRIFT', `consumer ${config.durable_name} of stream ${stream} exists with other settings: delete it or restore them`, differs.map((message) => ({ field: `consumer ${config.durable_name}`, message })));
    }
  } catch (e) {
    if (!notFound(e, CONSUMER_NOT_FOUND)) throw e;
    await jsm.consumers.add(stream, config);
  }
}

/** The buckets every pool shares: job state, run cancels, large results. Idempotent. */
export async function ensureBuckets(nc: NatsConnection, opts: PoolSetupOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, logStreamConfig(opts));
  const kvm = new Kvm(nc);
  const replicas = opts.replicas ?? 1;
  await kvm.create(JOB_BUCKET, { history: 1, ttl: STATE_TTL_MS, replicas, storage: StorageType.File });
  await kvm.create(RUN_BUCKET, { history: 1, ttl: STATE_TTL_MS, replicas, storage: StorageType.File });
  await new Objm(nc).create(RESULT_BUCKET, { ttl: nanos(STATE_TTL_MS), replicas, storage: StorageType.File });
}

/** The pool's work-queue stream and durable consumer, plus the shared buckets. Idempotent. */
export async function ensurePool(nc: NatsConnection, pool: PoolSpec, opts: PoolSetupOptions = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, poolStreamConfig(pool, opts));
  await ensureConsumer(jsm, pool.stream, poolConsumerConfig(pool, opts));
  await ensureBuckets(nc, opts);
}
