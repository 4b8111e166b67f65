import { ForgeError, isForgeError, type ForgeErrorCode } from '../errors.ts';

/** A database that cannot be reached, or refuses a statement. */
export const RECORDS_FAILED: ForgeErrorCode = 'RECORD_FAILED';

/**
 * A driver error as a ForgeError that says which database and carries the SQLSTATE. `scrub`
 * removes secrets a driver message may quote (the server's URL, its password).
 */
export function asForgeError(e: unknown, location: string, scrub: (text: string) => string = (t) => t): ForgeError {
  if (isForgeError(e)) return e;
  const err = e as { message?: string; code?: string; detail?: string; constraint?: string };
  const sqlState = typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : undefined;
  const text = typeof err.message === 'string' ? err.message : describe(e);
  const message = `records database ${location}: ${scrub(text)}`;
  const details = [
    ...(sqlState ? [{ field: 'sqlstate', message: sqlState }] : []),
    ...(err.constraint ? [{ field: 'constraint', message: err.constraint }] : []),
    ...(err.detail ? [{ message: scrub(err.detail) }] : []),
  ];
  // The cause keeps only what is safe to print: a driver error may carry the URL in its fields.
  return new ForgeError(RECORDS_FAILED, message, details, { cause: { code: sqlState ?? err.code, message: scrub(text) } });
}

/** The SQLSTATE of a database error, if it is one (`23505` unique violation, …). */
export function sqlStateOf(e: unknown): string | undefined {
  const cause = isForgeError(e) ? (e.cause as { code?: unknown } | undefined) : (e as { code?: unknown } | undefined);
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** Something thrown that is not an Error (PGlite throws plain objects): its JSON, else its string. */
function describe(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    try {
      return JSON.stringify(e).slice(0, 500);
    } catch {
      // fall through
    }
  }
  return String(e);
}
