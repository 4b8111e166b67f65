/**
 * `argo lint --offline` through execa (argument vector, no shell). All files of one manifest set
 * go into one invocation, so `templateRef`s between them resolve (argoproj/argo-workflows#5173);
 * two sets with the same object names must be linted separately (argo refuses duplicates).
 */
import { execa } from 'execa';
import { toolPath } from '../../steps/lib/tools.ts';

export interface ArgoLintResult {
  exitCode: number;
  /** Problems argo attributed to a file (`<file>: in "<name>" (<Kind>): <message>`), by file as given. */
  byFile: Map<string, string[]>;
  /** Everything else argo printed that is not the success line (errors not tied to one file, logs). */
  general: string[];
  /** argo printed its "no linting errors found" line. */
  clean: boolean;
  /** The command line run, for reports. */
  command: string;
}

export interface ArgoLintOptions {
  /** Kinds to lint (`workflows`, `workflowtemplates`, `cronworkflows`, `clusterworkflowtemplates`); default all. */
  kinds?: string[];
  timeoutMs?: number;
}

/** Runs `argo lint --offline -o simple --no-color <files...>`; throws only when argo cannot run at all. */
export async function argoLintOffline(files: string[], opts: ArgoLintOptions = {}): Promise<ArgoLintResult> {
  const argo = toolPath('argo');
  const args = ['lint', '--offline', '--output', 'simple', '--no-color', ...(opts.kinds ? [`--kinds=${opts.kinds.join(',')}`] : []), ...files];
  const timeout = opts.timeoutMs ?? 120_000;
  const result = await execa(argo, args, {
    reject: false,
    timeout,
    // Offline linting needs no cluster; keep a developer's kubeconfig and Argo server out of it.
    env: { KUBECONFIG: '/dev/null', ARGO_SERVER: '' },
  });
  if (result.timedOut) throw new Error(`argo lint timed out after ${timeout / 1000} s`);
  if (result.failed && result.exitCode === undefined) throw new Error(`argo lint could not run: ${result.message}`);

  const byFile = new Map<string, string[]>();
  const general: string[] = [];
  let clean = false;
  // Longest first, so `a/b.yaml` is not taken for a prefix match of `a/b.yaml.bak`.
  const sorted = [...files].sort((a, b) => b.length - a.length);
  for (const line of `${result.stdout}\n${result.stderr}`.split('\n')) {
    const text = line.trim();
    if (!text) continue;
    if (/no linting errors found/.test(text)) {
      clean = true;
      continue;
    }
    const file = sorted.find((f) => text.startsWith(`${f}: `));
    if (file) byFile.set(file, [...(byFile.get(file) ?? []), text.slice(file.length + 2)]);
    else general.push(text);
  }
  return { exitCode: result.exitCode ?? -1, byFile, general, clean, command: [argo, ...args].join(' ') };
}
