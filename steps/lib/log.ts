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

/** Removes credentials from a URL before it is logged or written to an output (`https://user:pw@h` → `https://h`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@\s]+@/, '//');
  }
}
