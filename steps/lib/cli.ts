import { writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { ForgeError, isForgeError } from './errors.ts';
import type { Logger } from 'pino';
import { inArgo, writeOutput } from './argo-io.ts';
import { envValue, TERMINATION_LOG } from './contract.ts';
import { createLogger } from './log.ts';
import { DIGEST_PATTERN, parseReference } from './reference.ts';

/**
 * Parses a step tool's argv against its option table, lets `FORGE_<OPTION>` environment
 * variables fill what the command line leaves out (how Argo templates pass values without any
 * shell), and validates the result with zod so a bad value names its option.
 */
export function parseToolArgs<S extends z.ZodType>(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  schema: S,
): { values: z.infer<S>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ForgeError('INVALID_ARGS', (e as Error).message);
  }
  const values: Record<string, unknown> = { ...parsed.values };
  for (const [name, spec] of Object.entries(options)) {
    const env = envValue(name);
    if (values[name] === undefined && env !== undefined) {
      values[name] = spec.type === 'boolean' ? env === 'true' : spec.multiple ? env.split(',').map((s) => s.trim()).filter(Boolean) : env;
    }
  }
  const result = schema.safeParse(values);
  if (!result.success) {
    const details = result.error.issues.map((i) => ({ field: `--${i.path.join('.')}`, message: i.message }));
    throw new ForgeError('INVALID_ARGS', 'invalid arguments', details);
  }
  return { values: result.data, positionals: parsed.positionals };
}

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

/** The zod type under optional/default/refine/transform wrappers: what the command line carries. */
function carriedType(type: z.ZodType): string {
  let t = type as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } };
  for (;;) {
    const { def } = t;
    if (def.innerType) t = def.innerType as unknown as typeof t;
    else if (def.type === 'pipe' && def.in) t = def.in as unknown as typeof t;
    else return def.type;
  }
}

/**
 * The option table of a tool, derived from its zod schema so each option is declared once:
 * booleans are flags, arrays repeat (`--paths a --paths b`, or `FORGE_PATHS=a,b`), everything
 * else is a string that the schema then validates.
 */
export function optionsOf(shape: Record<string, z.ZodType>, short: Record<string, string> = {}): Record<string, OptionSpec> {
  return Object.fromEntries(
    Object.entries(shape).map(([name, type]) => {
      const carried = carriedType(type);
      const spec: OptionSpec = carried === 'boolean' ? { type: 'boolean' } : carried === 'array' ? { type: 'string', multiple: true } : { type: 'string' };
      return [name, { ...spec, ...(short[name] ? { short: short[name] } : {}) }];
    }),
  );
}

/** Runs a tool's main: prints a ForgeError as `file:line:col: message` lines and sets the exit code. */
export async function runMain(log: Logger, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (isForgeError(e)) {
      if (inArgo()) {
        log.error({ err: e.toJSON() }, e.message);
        // Kubernetes shows the termination message as the node's message in the Argo UI.
        await writeFile(envValue('termination-log') ?? TERMINATION_LOG, e.format().slice(0, 4000)).catch(() => undefined);
      }
      process.stderr.write(`error: ${e.format()}\n`);
      process.exitCode = e.code === 'INVALID_ARGS' ? 2 : 1;
      return;
    }
    log.fatal({ err: e }, 'unexpected failure');
    process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}

/** What a step tool's `run` returns: its result, the Argo output files, and a readable summary. */
export interface StepOutcome {
  result: unknown;
  /** File name (under --outputs-dir) → content. */
  outputs?: Record<string, string>;
  /** Printed instead of the JSON result unless `--output json` (an empty text prints nothing). */
  text?: string;
}

export interface StepSpec<S extends z.ZodObject> {
  tool: string;
  usage: string;
  /** Its options are the schema's keys (optionsOf); `-h` is --help. */
  schema: S;
  run(values: z.infer<S>, positionals: string[], log: Logger): Promise<StepOutcome>;
}

/** `--image` of the steps after `resolve`: only `REPOSITORY@sha256:<64 hex>` is used from there on. */
export const pinnedImage = z.string().refine((r) => DIGEST_PATTERN.test(parseReference(r).digest ?? ''), 'must be pinned by digest: REPOSITORY@sha256:<64 hex> (resolve it first)');

/** `--transparency-log`: never defaulted, so running without a Rekor log is always said explicitly. */
export const transparencyLogFlag = z.enum(['true', 'false'], { message: 'must be set explicitly to true or false' });

/** Options every supply-chain step shares (output format, Argo output files, help). */
export const commonSchema = {
  output: z.enum(['text', 'json']).default('text'),
  'outputs-dir': z.string().optional(),
  help: z.boolean().optional(),
};

/**
 * The main of a step tool: parse and validate options (flags or FORGE_<OPTION>), run, write the
 * Argo output files, print the result. Errors become `file:line: message` lines and exit codes.
 */
export async function stepMain<S extends z.ZodObject>(argv: string[], spec: StepSpec<S>): Promise<void> {
  const log = createLogger(spec.tool);
  await runMain(log, async () => {
    // Help first: it must work without the options a run requires.
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(spec.usage);
      return;
    }
    const { values, positionals } = parseToolArgs(argv, optionsOf(spec.schema.shape, { help: 'h' }), spec.schema);
    const v = values as { output?: string; 'outputs-dir'?: string };
    const outcome = await spec.run(values, positionals, log);
    const dir = v['outputs-dir'];
    if (dir) await Promise.all(Object.entries(outcome.outputs ?? {}).map(([file, content]) => writeOutput(`${dir}/${file}`, content)));
    process.stdout.write(v.output === 'json' || outcome.text === undefined ? `${JSON.stringify(outcome.result, null, 2)}\n` : outcome.text);
  });
}
