/**
 * Vulnerability exceptions: accepted findings, each with a reason and an expiry date, so an
 * acceptance is a decision someone wrote down and has to renew. Read from a YAML or JSON file:
 *
 *   exceptions:
 *     - id: CVE-2019-1559          # CVE / GHSA / vendor id (matches VulnerabilityID or VendorIDs)
 *       package: openssl-libs      # optional: only this package
 *       reason: not reachable, TLS is terminated by the mesh
 *       expires: 2026-03-31        # ISO date (valid through that day, UTC) or date-time
 *
 * A bare list of entries is accepted too.
 */
import { readInputFile } from './input-file.ts';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ForgeError, type ForgeErrorDetail } from './errors.ts';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const FORMAT = 'expires must be an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)';

/** The instant an exception stops applying: the end of the day (UTC) for a date, the instant for a date-time. */
export function expiresAt(expires: string): number {
  const d = DATE.exec(expires);
  if (d) return Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]) + 1);
  return Date.parse(expires);
}

/** Days in a month of the proleptic Gregorian calendar (as ISO 8601 counts them). */
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/**
 * Why an expiry is not one, or undefined. The day is checked against the calendar for both forms:
 * `Date.parse` rolls an impossible day of a date-time (`2025-02-30T10:00:00Z`) over into the next month.
 */
function expiryProblem(s: string): string | undefined {
  const parts = DATE.exec(s) ?? DATE_TIME.exec(s);
  if (!parts) return FORMAT;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (month < 1 || month > 12) return `expires ${s} is not a calendar date: there is no month ${parts[2]}`;
  const days = daysIn(year, month);
  if (day < 1 || day > days) return `expires ${s} is not a calendar date: ${parts[1]}-${parts[2]} has ${days} days`;
  // Hours, minutes, seconds and offset out of range.
  if (Number.isNaN(expiresAt(s))) return FORMAT;
  return undefined;
}

const required = (what: string, hint: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined || iss.input === null ? `${what} is required: ${hint}` : `${what} must be a string`),
});

export const exceptionSchema = z.strictObject(
  {
    id: z.string(required('id', 'the CVE or GHSA id the exception accepts')).trim().min(1, 'id is empty: give the CVE or GHSA id'),
    package: z
      .string()
      .trim()
      .min(1, 'package is empty: leave it out to accept the id in every package')
      .optional(),
    reason: z
      .string(required('reason', 'say why the vulnerability is accepted'))
      .trim()
      .min(1, 'reason is empty: say why the vulnerability is accepted'),
    expires: z.preprocess(
      // YAML 1.1 readers turn 2026-03-31 into a timestamp; keep the date as written.
      (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString().replace('T00:00:00.000Z', '') : v),
      z
        .string(required('expires', 'give the date (YYYY-MM-DD) after which the exception must be renewed'))
        .trim()
        .superRefine((s, ctx) => {
          const problem = expiryProblem(s);
          // Stryker disable next-line StringLiteral: the code is only compared with 'unrecognized_keys'; message and path are what is shown
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    ),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key(s) ${iss.keys.map((k) => `"${k}"`).join(', ')} (allowed: id, package, reason, expires)` : 'an exception must be a mapping with id, reason and expires') },
);

export type ScanException = z.infer<typeof exceptionSchema>;

const fileSchema = z.strictObject(
  { exceptions: z.array(exceptionSchema, { error: 'exceptions must be a list' }).nullish().transform((v) => v ?? []) },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown top-level key(s) ${iss.keys.map((k) => `"${k}"`).join(', ')} (expected "exceptions")` : 'expected a mapping with "exceptions" or a list of exceptions') },
);

/** `exceptions[1].reason` from a zod path. */
export function fieldOf(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * Validates exception entries given directly (a policy built in code); errors name the entry
 * index and, when known, its id. `file` is set when the entries came from a file.
 */
export function validateExceptions(entries: unknown, file?: string): ScanException[] {
  const parsed = fileSchema.safeParse({ exceptions: entries });
  if (parsed.success) return parsed.data.exceptions;
  throw exceptionsError(parsed.error.issues, { exceptions: entries }, file);
}

function exceptionsError(issues: z.core.$ZodIssue[], raw: unknown, file?: string, locate?: (path: PropertyKey[]) => { line: number; column: number } | undefined): ForgeError {
  const details: ForgeErrorDetail[] = issues.map((i) => {
    // `exceptions` is the only list, so a second path element is always an entry's index.
    const index = i.path[1] as number | undefined;
    const entry = index !== undefined ? (raw as { exceptions: unknown[] }).exceptions[index] : undefined;
    const id = (entry as { id?: unknown } | null | undefined)?.id;
    const where = index !== undefined ? `entry ${index}${typeof id === 'string' && id ? ` (${id})` : ''}: ` : '';
    // An unknown key is reported on its entry; point at the (first) key itself.
    const pos = locate?.(i.code === 'unrecognized_keys' ? [...i.path, ...i.keys.slice(0, 1)] : i.path);
    return { ...(file ? { file } : {}), ...(pos ?? {}), field: fieldOf(i.path), message: `${where}${i.message}` };
  });
  const n = new Set(details.map((d) => d.field)).size;
  return new ForgeError('INVALID_CONFIG', `${file ? `${file}: ` : ''}invalid vulnerability exception${n === 1 ? '' : 's'} (every exception needs an id, a reason and an expiry date)`, details);
}

/** Parses an exceptions file's text (YAML, of which JSON is a subset). */
export function parseExceptions(text: string, file: string): ScanException[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ForgeError(
      'INVALID_CONFIG',
      `${file} is not valid YAML or JSON`,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, message: e.message };
      }),
    );
  }
  const data: unknown = doc.toJS();
  // A bare list is the exceptions list itself; its node paths lack the leading "exceptions".
  const bare = Array.isArray(data);
  const raw = bare ? { exceptions: data } : (data ?? {});
  const parsed = fileSchema.safeParse(raw);
  if (parsed.success) return parsed.data.exceptions;
  const locate = (path: PropertyKey[]) => {
    const nodePath = bare ? path.slice(1) : path;
    // Walk to the deepest node that exists (a missing key points at its entry; [] is the document).
    for (let n = nodePath.length; n >= 0; n--) {
      const node = doc.getIn(nodePath.slice(0, n), true);
      if (isNode(node)) {
        // A parsed node always carries its range.
        const p = lineCounter.linePos(node.range![0]);
        return { line: p.line, column: p.col };
      }
    }
    return undefined;
  };
  throw exceptionsError(parsed.error.issues, raw, file, locate);
}

/** Reads and validates an exceptions file. */
export async function loadExceptions(file: string): Promise<ScanException[]> {
  return parseExceptions(await readInputFile(file, 'the exceptions file', '--exceptions'), file);
}
