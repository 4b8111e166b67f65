import { z } from 'zod';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { defaultDataDir, migrate, openDatabase } from '../lib/records/db.ts';
import { checkRuntimeRole, grantRuntimeRole } from '../lib/records/roles.ts';

export const usage = `Usage: forge records migrate --database-url OWNER_URL [--runtime-role ROLE]

Creates or updates the records schema (the promotion allowlist and its append-only audit trail)
by applying the checksummed migrations, as the role that is to own the tables. The steps never
migrate a server: they check the schema version and fail until this has run.

With --runtime-role it then grants that role — the one in the steps' database URL Secret —
exactly what recording needs: SELECT on the records tables, INSERT of the columns a step writes,
USAGE of the event id sequence. Not UPDATE, DELETE, TRUNCATE, DDL or ownership, so the steps'
credentials cannot rewrite the audit trail or disable its triggers. Running it again converges.

Options (each may also come from FORGE_<OPTION>):
  --database-url URL    PostgreSQL server, connected to as the OWNER (e.g. the role that owns
                        the database: CREATE DATABASE forge_records OWNER forge_owner). Never
                        printed. Without it: the embedded PGlite under --state-dir.
  --runtime-role ROLE   existing LOGIN role the steps connect as (not the owner, not a
                        superuser); grants are revoked and re-granted
  --state-dir DIR       PGlite data in DIR/records (default: $FORGE_STATE_DIR or
                        ~/.local/state/forge-workflows)
  --output text|json    result format (default text)
`;

const text = z
  .string()
  .optional()
  .transform((s) => s?.trim() || undefined);

const schema = z.object({ 'database-url': text, 'runtime-role': text, 'state-dir': text, ...commonSchema });

export interface MigrateOutput {
  database: { kind: 'postgres' | 'pglite'; location: string };
  version: number;
  applied: string[];
  runtimeRole?: { role: string; statements: string[] };
}

/** `forge records <sub-command>`: only `migrate` for now. */
export function main(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'migrate') {
    const help = sub === undefined || sub === '--help' || sub === '-h';
    if (help) {
      process.stdout.write(usage);
      return Promise.resolve();
    }
    process.stderr.write(`error: INVALID_ARGS: unknown records command ${JSON.stringify(sub)}: the one command is \`forge records migrate\`\n\n${usage}`);
    process.exitCode = 2;
    return Promise.resolve();
  }
  return stepMain(rest, {
    tool: 'records-migrate',
    usage,
    schema,
    async run(v) {
      const url = v['database-url'];
      const role = v['runtime-role'];
      if (role && !url) throw new ForgeError('INVALID_ARGS', '--runtime-role needs --database-url: PGlite has a single user');
      const db = await openDatabase(url ? { url, schema: 'none' } : { dataDir: defaultDataDir(v['state-dir']), schema: 'none' });
      try {
        if (role) await checkRuntimeRole(db, role); // refuse an unsafe role before changing anything
        const migrated = await migrate(db);
        const grants = role ? await grantRuntimeRole(db, role) : undefined;
        const result: MigrateOutput = {
          database: { kind: db.kind, location: db.location },
          version: migrated.version,
          applied: migrated.applied.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`),
          ...(grants ? { runtimeRole: grants } : {}),
        };
        const lines = [
          `${db.location}: schema version ${result.version}${result.applied.length ? ` (applied ${result.applied.join(', ')})` : ' (already current)'}`,
          grants ? `runtime role ${grants.role}: SELECT and INSERT (step columns) on the records, nothing else` : 'no --runtime-role: no grants changed',
        ];
        return { result, text: `${lines.join('\n')}\n` };
      } finally {
        await db.close();
      }
    },
  });
}
