import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import { inArgo } from './argo-io.ts';

/**
 * Structured JSON logs on stderr (stdout is kept for a tool's result), one logger per tool.
 * Keys that may carry credentials are redacted wherever they appear. In Argo every step logs its
 * progress (the UI shows it); at a terminal only warnings, unless FORGE_LOG_LEVEL says otherwise.
 */
export function createLogger(tool: string, level = process.env.FORGE_LOG_LEVEL ?? (inArgo() ? 'info' : 'warn')): Logger {
  return pino(
    {
      name: tool,
      level,
      base: { tool },
      timestamp: stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', 'token', 'secret', '*.password', '*.token', '*.secret', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination(2),
  );
}

/**
 * A URL as it may be printed: scheme, host and path only (`https://user:pw@h/r?token=x` →
 * `https://h/r`). Everything up to the last `@` after `//` goes, so a password with an unencoded
 * `/`, `?`, `#` or `@` cannot survive by changing how the URL parses; the query and fragment go
 * too (tokens travel there). An scp-like `git@host:path` has no password and stays; any other
 * string with an `@` is not shown.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(url);
  if (!m) return !url.includes('@') || /^[\w.-]+@[\w.-]+:[^@]*$/.test(url) ? url : '(URL not shown: it may hold credentials)';
  const afterUserinfo = m[2]!.slice(m[2]!.lastIndexOf('@') + 1);
  const cut = afterUserinfo.search(/[?#]/);
  return m[1] + (cut === -1 ? afterUserinfo : afterUserinfo.slice(0, cut));
}

/** Text a tool printed about `url` (git's errors quote it), with that URL and any userinfo redacted. */
export function redactUrlsIn(text: string, url: string): string {
  return text.split(url).join(redactUrl(url)).replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s'"@/]*@/gi, '$1');
}
