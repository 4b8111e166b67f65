import { z } from 'zod';
import { commonSchema, stepMain } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { ApprovalRecords, type Approval } from '../lib/records/approvals.ts';
import { defaultDataDir, openDatabase } from '../lib/records/db.ts';
import { ReleaseRecords } from '../lib/records/releases.ts';

const usage = `Usage: forge approve ENVIRONMENT REPOSITORY PROJECT RELEASE --by WHO --reason WHY [--hours N]
       forge approve --revoke APPROVAL_ID --by WHO --reason WHY
       forge approve --list ENVIRONMENT REPOSITORY PROJECT RELEASE

Approves the deployment of a release to a protected environment: who, why, and for how long
(24 hours by default, at most 30 days; the database's clock says when). RELEASE is what people
type: an alias (tag, <branch>-<n>), a release number or a commit SHA prefix. A protected
deployment goes on only while an approval is neither expired nor revoked; --revoke ends one now,
--list shows every approval of the release for the environment with its status.

Options (each may also come from FORGE_<OPTION>):
  --by WHO               the approver's identity (recorded)
  --reason WHY           why (recorded; required)
  --hours N              how long the approval counts (default 24)
  --database-url URL     the records (PostgreSQL, as the runtime role; never printed); without it
                         the embedded PGlite under --state-dir
  --state-dir DIR        default: $FORGE_STATE_DIR or ~/.local/state/forge-workflows
  --output text|json
`;

const schema = z.object({
  by: z.string().optional(),
  reason: z.string().optional(),
  hours: z.coerce.number().positive().optional(),
  revoke: z.string().optional(),
  list: z.boolean().optional(),
  'database-url': z.string().optional(),
  'state-dir': z.string().optional(),
  ...commonSchema,
});

const line = (a: Approval) => `${a.id} ${a.status.padEnd(7)} ${a.environment} ${a.commit.slice(0, 12)} by ${a.approvedBy} at ${a.approvedAt.toISOString()} until ${a.expiresAt.toISOString()}: ${a.reason}${a.revokedBy ? ` (revoked by ${a.revokedBy})` : ''}`;

export async function main(argv: string[]): Promise<void> {
  await stepMain(argv, {
    tool: 'approve',
    usage,
    schema,
    async run(v, positionals) {
      const db = await openDatabase(v['database-url'] ? { url: v['database-url'] } : { dataDir: defaultDataDir(v['state-dir']) });
      try {
        const approvals = new ApprovalRecords(db);
        if (v.revoke) {
          const a = await approvals.revoke(v.revoke, v.by ?? '', v.reason ?? '');
          return { result: a, text: `${line(a)}\n` };
        }
        const [environment, repository, project, ref] = positionals;
        if (!environment || !repository || !project || !ref) throw new ForgeError('INVALID_ARGS', 'forge approve needs ENVIRONMENT REPOSITORY PROJECT RELEASE (see --help)');
        const release = await new ReleaseRecords(db).lookup(repository, project, ref);
        if (!release) throw new ForgeError('RECORD_FAILED', `no release ${ref} of ${repository}/${project} (an alias, a number or a commit SHA prefix)`);
        if (v.list) {
          const all = await approvals.list(repository, project, release.commit, environment);
          return { result: all, text: all.length ? `${all.map(line).join('\n')}\n` : `no approvals of release ${release.number} for ${environment}\n` };
        }
        if (!v.by) throw new ForgeError('INVALID_ARGS', 'forge approve needs --by (who approves)');
        const a = await approvals.approve({ repository, project, commit: release.commit, environment, approvedBy: v.by, reason: v.reason ?? '', ttlHours: v.hours ?? 24 });
        return { result: a, text: `approved release ${release.number} (${release.commit.slice(0, 12)}) of ${repository}/${project} for ${environment}\n${line(a)}\n` };
      } finally {
        await db.close();
      }
    },
  });
}
