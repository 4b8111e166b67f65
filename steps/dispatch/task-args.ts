import { z } from 'zod';
import { ForgeError } from '../lib/errors.ts';
import { stageTaskId, taskIdSchema, taskSchema, type JobTask } from '../lib/pool/job.ts';
import type { PoolName } from '../lib/pool/pools.ts';

/**
 * The job a dispatcher queues, from its command line: which kinds exist, which pool each runs
 * on, and how the task is read — from `--task` JSON for the items a worker listed (a discovery
 * slot's phase tasks, a release plan's artifacts), from flags for the rest. Every task is
 * validated against the job schema the worker checks again.
 */
export const DISPATCH_KINDS = ['phase', 'discover', 'ping', 'release-plan', 'artifact', 'release', 'deploy-plan', 'deploy'] as const;
export type DispatchKind = (typeof DISPATCH_KINDS)[number];

export const DEFAULT_POOL: Record<DispatchKind, PoolName> = {
  phase: 'ci', discover: 'discovery', ping: 'ci',
  'release-plan': 'release', artifact: 'artifact', release: 'release', 'deploy-plan': 'release', deploy: 'release',
};

const flag = z.string().optional();
const bool = z.enum(['true', 'false']).optional();
export const releaseArgsSchema = {
  project: flag, path: flag, manual: bool,
  environment: flag, release: flag, 'deployed-by': flag, rollback: bool,
};

interface Args {
  task?: string; branch?: string; tag?: string; paths?: string[]; slots?: number;
  project?: string; path?: string; manual?: 'true' | 'false'; environment?: string; release?: string; 'deployed-by'?: string; rollback?: 'true' | 'false';
}

/** Empty strings are how Argo passes "not set". */
const orUndefined = (s: string | undefined) => (s ? s : undefined);

const listedItem = z.object({ id: taskIdSchema, timeout: z.string().optional() }).loose();

/** The job's task, its id and its own timeout. */
export function taskOf(kind: DispatchKind, v: Args): { task: JobTask; taskId: string; timeout?: string } {
  if (kind === 'ping') return { taskId: `ping-${Date.now().toString(36)}`, task: { kind: 'ping' } };
  if (kind === 'discover') {
    const paths = v.paths?.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
    return { taskId: 'discover', task: validated({ kind, branch: orUndefined(v.branch), tag: orUndefined(v.tag), ...(paths?.length ? { paths } : {}), slots: v.slots }, '') };
  }
  if (kind === 'phase' || kind === 'artifact') {
    const item = parseItem(kind, v.task);
    const { id, timeout, ...rest } = item;
    return { taskId: id, timeout, task: validated({ ...rest, kind }, '--task.') };
  }
  const base = { project: orUndefined(v.project), ...(orUndefined(v.branch) ? { branch: v.branch } : {}), ...(orUndefined(v.tag) ? { tag: v.tag } : {}) };
  if (kind === 'release-plan' || kind === 'release') {
    const task = validated({ kind, ...base, path: orUndefined(v.path), manual: v.manual === 'true' }, '--') as JobTask & { project: string };
    return { taskId: stageTaskId(kind === 'release' ? 'release' : 'plan', task.project), task };
  }
  const task = validated({ kind, project: base.project, environment: orUndefined(v.environment), release: orUndefined(v.release), deployedBy: orUndefined(v['deployed-by']), rollback: v.rollback === 'true' }, '--') as JobTask & { project: string; environment: string };
  return { taskId: stageTaskId(kind === 'deploy' ? 'deploy' : 'check', task.environment, task.project), task };
}

function parseItem(kind: string, text: string | undefined): z.infer<typeof listedItem> {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    throw new ForgeError('INVALID_ARGS', `--task must be the JSON of one ${kind === 'phase' ? 'discovery slot task ({"id","phase","project","path",…})' : 'release plan artifact ({"id","project","path","artifact",…})'}`);
  }
  const item = listedItem.safeParse(raw);
  if (!item.success) throw new ForgeError('INVALID_ARGS', 'invalid --task', item.error.issues.map((i) => ({ field: `--task.${i.path.join('.')}`, message: i.message })));
  if ('kind' in item.data && item.data.kind !== kind) throw new ForgeError('INVALID_ARGS', `--task is a ${String(item.data.kind)} task, not ${kind}`);
  return item.data;
}

/** The job schema's verdict, with flag names in the errors (`--project`, `--task.phase`). */
function validated(value: Record<string, unknown>, prefix: string): JobTask {
  const clean = Object.fromEntries(Object.entries(value).filter(([k, v]) => v !== undefined && !(prefix === '--task.' && !(k in KNOWN))));
  const parsed = taskSchema.safeParse(clean);
  if (!parsed.success) {
    throw new ForgeError('INVALID_ARGS', `invalid ${String(value.kind)} task`, parsed.error.issues.map((i) => ({ field: `${prefix}${flagName(String(i.path[0] ?? ''))}`, message: i.message })));
  }
  return parsed.data;
}

/** Fields a listed item may carry into the task (discovery's slot tasks also carry group, steps, …). */
const KNOWN: Record<string, true> = { kind: true, phase: true, project: true, path: true, artifact: true, branch: true, tag: true, manual: true };

const flagName = (field: string) => (field === 'deployedBy' ? 'deployed-by' : field);
