/**
 * The one error type every step tool throws. `code` is stable (scripts and tests match on it);
 * `message` says what is wrong and, where it can, what to do about it; `file` names the input
 * the error is about so a person can open it.
 */
export type ForgeErrorCode =
  | 'INVALID_ARGS'
  | 'INVALID_CONFIG'
  | 'TOOL_MISSING'
  | 'TOOL_FAILED'
  | 'GIT_FAILED'
  | 'NOT_A_FORGE_REPO'
  | 'CUE_INVALID'
  | 'DISCOVERY_INVALID'
  | 'OUTPUT_TOO_LARGE'
  | 'VERSION_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'SCAN_BLOCKED'
  | 'POLICY_VIOLATION'
  | 'COPY_FAILED'
  | 'ATTESTATION_FAILED'
  | 'RECORD_FAILED'
  | 'POOL_UNAVAILABLE'
  | 'POOL_DRIFT'
  | 'JOB_INVALID'
  | 'JOB_FAILED'
  | 'JOB_TIMEOUT'
  | 'JOB_CANCELLED'
  | 'RELEASE_INVALID'
  | 'ARTIFACT_FAILED'
  | 'ARGO_SERVER_UNREACHABLE'
  | 'ARGO_SERVER_UNAUTHORIZED'
  | 'ARGO_SERVER_FORBIDDEN'
  | 'ARGO_SERVER_NOT_FOUND'
  | 'ARGO_SERVER_CONFLICT'
  | 'ARGO_SERVER_FAILED'
  | 'WAIT_TIMEOUT'
  | 'GITHUB_FAILED';

export interface ForgeErrorDetail {
  /** File the problem is in, relative to the repository root when there is one. */
  file?: string;
  line?: number;
  column?: number;
  /** Field path inside the file, dotted (`ci.phases.build.compile.target`). */
  field?: string;
  message: string;
}

export class ForgeError extends Error {
  override readonly name = 'ForgeError';
  readonly code: ForgeErrorCode;
  readonly details: ForgeErrorDetail[];

  constructor(code: ForgeErrorCode, message: string, details: ForgeErrorDetail[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** `file:line:col: field: message` lines, the form editors and CI annotations understand. */
  format(): string {
    if (this.details.length === 0) return `${this.code}: ${this.message}`;
    return [`${this.code}: ${this.message}`, ...this.details.map((d) => `  ${formatDetail(d)}`)].join('\n');
  }

  toJSON(): { code: ForgeErrorCode; message: string; details: ForgeErrorDetail[] } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function formatDetail(d: ForgeErrorDetail): string {
  const where = d.file ? [d.file, d.line, d.column].filter((x) => x !== undefined).join(':') : '';
  const field = d.field ? `${d.field}: ` : '';
  return where ? `${where}: ${field}${d.message}` : `${field}${d.message}`;
}

export function isForgeError(e: unknown): e is ForgeError {
  return e instanceof ForgeError;
}
