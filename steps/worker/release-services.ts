import { ForgeError } from '../lib/errors.ts';
import type { Database } from '../lib/records/db.ts';
import type { ReleaseSettings } from '../lib/release/settings.ts';
import type { HandlerContext } from './handlers.ts';

/** What a worker of the artifact or release pool holds for releases: its settings and the records. */
export interface ReleaseServices {
  settings?: ReleaseSettings;
  db?: Database;
}

/** The settings (and, for release and deploy jobs, the records) a job needs, or an error naming the worker's flags. */
export function releaseServices(ctx: HandlerContext, kind: string): { settings: ReleaseSettings; db: Database } {
  const { settings, db } = ctx.release ?? {};
  if (!settings) throw new ForgeError('INVALID_CONFIG', `this worker cannot run ${kind} jobs: it has no release settings (forge worker --release-settings FILE, from the platform config's release section)`);
  if (!db) throw new ForgeError('INVALID_CONFIG', `this worker cannot run ${kind} jobs: it has no records database (forge worker --database-url)`);
  return { settings, db };
}
