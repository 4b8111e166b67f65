/**
 * The shape every conformance suite shares. A suite gets the context (where ../shared is, the
 * synthesized manifest sets, a scratch directory) and returns checks; `run.ts` prints one line per
 * check and counts them. A suite that throws counts as one failed check carrying the error.
 */

export interface Check {
  /** Suite name, printed first (`schema`, `argo-lint`, `security`). */
  suite: string;
  /** What was checked: a manifest file label, a fixture, a manifest set. */
  target: string;
  ok: boolean;
  /** Short parenthesised summary (`1 WorkflowTemplate`). */
  summary: string;
  /** Lines that say what is wrong, with enough detail to act on (printed under a failed check). */
  details: string[];
}

export interface ManifestDoc {
  /** 0-based position of the YAML document in its file. */
  index: number;
  object: unknown;
}

export interface ManifestFile {
  /** Absolute path. */
  path: string;
  /** How reports name it: `dist/manifests/x.yaml`, or `<set>/x.yaml` for a variant. */
  label: string;
  docs: ManifestDoc[];
  /** YAML errors; a file with any is failed by the schema suite. */
  parseErrors: string[];
}

/** The manifests synthesized from one platform configuration. */
export interface ManifestSet {
  name: string;
  description: string;
  dir: string;
  files: ManifestFile[];
}

export interface ConformanceContext {
  repoRoot: string;
  /** ../shared: Argo schema, fixtures (trivy, cosign). */
  sharedDir: string;
  /** Scratch directory, removed after a passing run. */
  tmpDir: string;
  manifestSets: ManifestSet[];
}

export interface Suite {
  name: string;
  description: string;
  run(ctx: ConformanceContext): Promise<Check[]>;
}

export function pass(suite: string, target: string, summary: string): Check {
  return { suite, target, ok: true, summary, details: [] };
}

export function fail(suite: string, target: string, summary: string, details: string[]): Check {
  return { suite, target, ok: false, summary, details };
}

/** `1 WorkflowTemplate, 2 ServiceAccounts` style counts of kinds. */
export function countKinds(objects: unknown[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) {
    const kind = typeof o === 'object' && o !== null && typeof (o as { kind?: unknown }).kind === 'string' ? (o as { kind: string }).kind : '<no kind>';
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ') || 'no objects';
}
