import { ForgeError } from './errors.ts';

/**
 * Where a PostgreSQL database is, in a form safe to print: `postgresql://HOST:PORT/DATABASE`,
 * built from those three parts only. A database URL carries its password in the userinfo
 * (`user:pw@`) or in the query string (`?password=…`), and a password with an unencoded `/`, `?`,
 * `#` or `@` makes a URL parse into something else entirely (part of the password becomes the
 * port or the database name). So nothing prints a database URL, or a part of one, except through
 * this module: every log line, output file, result and error about a database location uses
 * {@link databaseLocation}, and a URL that does not parse unambiguously is refused without being
 * shown ({@link parseDatabaseUrl}).
 */

export interface DatabaseUrl {
  host: string;
  port: string;
  database: string;
  /** `postgresql://HOST:PORT/DATABASE`: no user, no password, no query. */
  location: string;
}

/** Shown instead of a location when the URL does not parse (it is never echoed). */
export const UNPARSEABLE_LOCATION = 'postgresql://(unparseable URL, not shown)';

/** Query parameters `pg` understands; anything else in the query is taken for a mis-parse. */
const QUERY_KEY = /^[a-z_]{1,64}$/;
/** Query parameters whose values are secrets. */
const SECRET_PARAMS = ['password', 'sslpassword'];

function unparseable(what: string, why: string): ForgeError {
  return new ForgeError(
    'INVALID_ARGS',
    `${what} is not a postgresql://USER:PASSWORD@HOST:PORT/DATABASE URL (${why}); percent-encode the characters / ? # @ : % in the user name and ` +
      'password (encodeURIComponent). The URL is not shown because it may hold a password.',
  );
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/**
 * Parses a database URL strictly: `postgres:`/`postgresql:` scheme, at most one path segment (the
 * database), no fragment, nothing after the authority that looks like leftover userinfo (`@`),
 * only plain `key=value` query parameters. Refuses anything else with an INVALID_ARGS error that
 * names `what` (the option or variable it came from) but not the URL.
 */
export function parseDatabaseUrl(url: string, what = 'the database URL (--database-url, FORGE_DATABASE_URL)'): DatabaseUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw unparseable(what, 'it does not parse as a URL');
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') throw unparseable(what, 'the scheme must be postgresql: or postgres:');
  if (u.hash !== '' || url.includes('#')) throw unparseable(what, 'it has a #, which starts a fragment');
  if (u.pathname.includes('@')) {
    throw unparseable(what, 'an @ follows the host, so the password holds an unencoded character');
  }
  if (!/^(\/[^/]*)?$/.test(u.pathname)) throw unparseable(what, 'the path must be one database name');
  for (const key of u.searchParams.keys()) {
    if (!QUERY_KEY.test(key)) throw unparseable(what, 'a query parameter name is not a plain word');
  }
  const host = decode(u.hostname) || u.searchParams.get('host') || 'localhost';
  const port = u.port || u.searchParams.get('port') || '5432';
  const database = decode(u.pathname.slice(1)) || u.searchParams.get('dbname') || decode(u.username) || 'postgres';
  if (!/^\d{1,5}$/.test(port)) throw unparseable(what, 'the port is not a number');
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { host, port, database, location: `postgresql://${shownHost}:${port}/${encodeURIComponent(database)}` };
}

/** The printable location of a database URL, or {@link UNPARSEABLE_LOCATION}: never throws, never echoes. */
export function databaseLocation(url: string): string {
  try {
    return parseDatabaseUrl(url).location;
  } catch {
    return UNPARSEABLE_LOCATION;
  }
}

/**
 * Removes what the URL holds of secrets (its password, raw and decoded, `?password=`/`?sslpassword=`
 * values, and the URL itself) from a text: a driver's error message, say, which may quote what it
 * was given. Secrets shorter than 4 characters are not searched for (they would blank out ordinary
 * words); the message keeps its shape.
 */
export function redactDatabaseSecrets(text: string, url: string | undefined): string {
  if (!url) return text;
  const secrets = new Set<string>([url]);
  try {
    const u = new URL(url);
    for (const s of [u.password, ...SECRET_PARAMS.flatMap((k) => u.searchParams.getAll(k))]) {
      secrets.add(s);
      secrets.add(decode(s));
    }
  } catch {
    // Unparseable: whatever sits between "//" and the last "@" may be credentials.
    const userinfo = /\/\/(.*)@/s.exec(url)?.[1];
    const password = userinfo?.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : undefined;
    if (password !== undefined) {
      secrets.add(password);
      for (const part of password.split(/[:/@?#]/)) secrets.add(part);
    }
  }
  let out = text;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]');
  return out;
}
