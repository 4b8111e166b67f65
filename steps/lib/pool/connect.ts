import { readFile } from 'node:fs/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { ForgeError } from '../errors.ts';
import { redactUrl } from '../log.ts';

/** How a dispatcher or worker reaches NATS: servers, and credentials by reference (files), never inline. */
export interface NatsSettings {
  /** `nats://host:4222`, comma-separated for several. */
  servers: string;
  /** Client name shown in the server's monitoring (`forge-worker-ci-0`). */
  name: string;
  /** File holding the user's password; the user name is `user`. */
  user?: string;
  passwordFile?: string;
  /** CA bundle for TLS (`tls://` servers). */
  caFile?: string;
  /** How long the first connection may take (ms, default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * Connects and stays connected: reconnects without limit (a restarted NATS server is waited for,
 * and JetStream's stored jobs, state and results survive it), and fails the first connection
 * with an error that names the server without its credentials.
 */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  const servers = settings.servers.split(',').map((s) => s.trim()).filter(Boolean);
  const pass = settings.passwordFile ? (await readFile(settings.passwordFile, 'utf8')).trim() : undefined;
  try {
    return await connect({
      servers,
      name: settings.name,
      ...(settings.user ? { user: settings.user, pass } : {}),
      ...(settings.caFile ? { tls: { caFile: settings.caFile } } : {}),
      timeout: settings.connectTimeoutMs ?? 10_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: false,
    });
  } catch (e) {
    throw new ForgeError('POOL_UNAVAILABLE', `cannot connect to NATS at ${servers.map(redactUrl).join(', ')}: ${(e as Error).message}`, [], { cause: e });
  }
}

/** The NATS options the dispatcher and the worker share (each also from FORGE_<OPTION>). */
export const natsOptionsSchema = {
  'nats-url': z.string().min(1, 'is required (or FORGE_NATS_URL)').default('nats://127.0.0.1:4222'),
  'nats-user': z.string().optional(),
  'nats-password-file': z.string().optional(),
  'nats-ca-file': z.string().optional(),
};

export function natsSettings(values: { 'nats-url': string; 'nats-user'?: string; 'nats-password-file'?: string; 'nats-ca-file'?: string }, name: string): NatsSettings {
  return {
    servers: values['nats-url'],
    name,
    ...(values['nats-user'] ? { user: values['nats-user'] } : {}),
    ...(values['nats-password-file'] ? { passwordFile: values['nats-password-file'] } : {}),
    ...(values['nats-ca-file'] ? { caFile: values['nats-ca-file'] } : {}),
  };
}

export const NATS_USAGE = `  --nats-url URL              NATS servers, comma-separated (default nats://127.0.0.1:4222)
  --nats-user NAME            NATS user (its password from --nats-password-file)
  --nats-password-file FILE   file holding the NATS password (never on the command line)
  --nats-ca-file FILE         CA bundle for tls:// servers
`;
