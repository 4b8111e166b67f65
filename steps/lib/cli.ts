import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { ForgeError, isForgeError } from './errors.ts';
import type { Logger } from 'pino';
import { inArgo } from './argo-io.ts';

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
    const env = process.env[`FORGE_${name.toUpperCase().replace(/-/g, '_')}`];
    if (values[name] === undefined && env !== undefined && env !== '') {
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

/** Runs a tool's main: prints a ForgeError as `file:line:col: message` lines and sets the exit code. */
export async function runTool(log: Logger, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (isForgeError(e)) {
      if (inArgo()) log.error({ err: e.toJSON() }, e.message);
      process.stderr.write(`error: ${e.format()}\n`);
      process.exitCode = e.code === 'INVALID_ARGS' ? 2 : 1;
      return;
    }
    log.fatal({ err: e }, 'unexpected failure');
    process.stderr.write(`error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}
