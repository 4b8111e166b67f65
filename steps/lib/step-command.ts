import { ForgeError } from './errors.ts';
import type { StepCommand } from './run-steps.ts';

/**
 * An action (`script` or `earthly`) as a command line: no shell anywhere. `script` runs `target`
 * with `args`; `earthly` runs `earthly --ci +target args` with the secrets in `EARTHLY_SECRETS`
 * (Earthly's own variable), so no value is ever on a command line. The command sees a small
 * environment: the worker's PATH, HOME, locale and the few variables builds need, the caller's
 * FORGE_* facts, and its own secrets — not the worker's other variables. Phase steps
 * (steps/worker/actions.ts) and artifact producers (steps/lib/release/produce.ts) both use it.
 */
export interface ActionSpec {
  name: string;
  stage: number;
  action: 'earthly' | 'script';
  target: string;
  args: string[];
  timeoutMs: number;
}

export interface CommandContext {
  /** Where the command runs. */
  cwd: string;
  /** `CI` and the FORGE_* facts the command sees. */
  facts: Record<string, string>;
  workerEnv: NodeJS.ProcessEnv;
  /** The Earthly binary (FORGE_TOOL_EARTHLY or `earthly` on PATH). */
  earthly: string;
}

/** A secret as the worker resolved it: the variable (or Earthly secret id) and its value. */
export interface SecretValue {
  id: string;
  value: string;
}

/**
 * Passed through from the worker: FORGE_BASE_IMAGE names the base image container producers
 * build on (the example's `src/build.mjs --image`), and FORGE_INSECURE_REGISTRIES the plain-HTTP
 * registries of a test cluster, both set per pool by the platform; neither is a secret.
 */
export const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'EARTHLY_BUILDKIT_HOST', 'DOCKER_HOST', 'FORGE_BASE_IMAGE', 'FORGE_INSECURE_REGISTRIES'];

export function actionCommand(spec: ActionSpec, secrets: SecretValue[], ctx: CommandContext): StepCommand {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(PASSED_ENV.filter((k) => ctx.workerEnv[k] !== undefined).map((k) => [k, ctx.workerEnv[k]])),
    CI: 'true',
    ...ctx.facts,
  };
  const base = { name: spec.name, stage: spec.stage, cwd: ctx.cwd, env, timeoutMs: spec.timeoutMs };
  if (spec.action === 'script') {
    for (const s of secrets) env[s.id] = s.value;
    return { ...base, argv: [spec.target, ...spec.args] };
  }
  for (const s of secrets) {
    if (s.value.includes(',')) {
      throw new ForgeError('JOB_FAILED', `step ${spec.name}: the value of secret ${s.id} contains a comma, which EARTHLY_SECRETS (id=value,…) cannot carry`);
    }
  }
  if (secrets.length > 0) env.EARTHLY_SECRETS = secrets.map((s) => `${s.id}=${s.value}`).join(',');
  const target = spec.target.startsWith('+') ? spec.target : `+${spec.target}`;
  return { ...base, argv: [ctx.earthly, '--ci', target, ...spec.args] };
}
