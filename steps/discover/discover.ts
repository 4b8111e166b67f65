import { ForgeError } from '../lib/errors.ts';
import { FULL_SHA, isGitUrl, openSource } from '../lib/git.ts';
import { redactUrl } from '../lib/log.ts';
import { buildDiscovery, MAX_OUTPUT_BYTES, type DiscoveryOutput } from './contract.ts';
import { evaluateForgeFiles, type EvaluateLimits } from './evaluate.ts';
import { findForgeFiles } from './find.ts';
import { compileGlobs } from './globs.ts';
import { printable, refProblem } from './limits.ts';

export interface DiscoverOptions {
  /** A local path inside a git work tree, or a git URL. */
  source: string;
  /** Commit to read; default: the work tree as it is (local) or the remote HEAD (URL). */
  commit?: string;
  branch?: string;
  tag?: string;
  /** Only keep projects whose directory matches one of these globs (`services/**`; steps/discover/globs.ts). */
  paths?: string[];
  /** Number of phase-group slots of the pipeline (platform config). */
  slots?: number;
  /** Memory and time limits of cue (the step's share of its container's memory limit). */
  cueLimits?: EvaluateLimits;
  /** Called as the work advances, for progress reporting (done, total). */
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface DiscoverResult {
  output: DiscoveryOutput;
  /** The serialized output, exactly as written to discovery.json. */
  json: string;
  timings: { checkoutMs: number; findMs: number; evaluateMs: number; buildMs: number };
}

export const DEFAULT_SLOTS = 6;

/** Discovery end to end: checkout → find → evaluate with cue → contract. Nothing is written. */
export async function discover(opts: DiscoverOptions): Promise<DiscoverResult> {
  if (opts.commit && !FULL_SHA.test(opts.commit) && opts.commit !== 'HEAD') {
    throw new ForgeError('INVALID_ARGS', `commit must be a full 40-character hexadecimal SHA, got "${printable(opts.commit)}"`);
  }
  for (const [name, value] of [['--branch', opts.branch], ['--tag', opts.tag]] as const) {
    const problem = value === undefined ? undefined : refProblem(value);
    if (problem) throw new ForgeError('INVALID_ARGS', `${name} "${printable(value!)}" is refused: ${problem}`);
  }
  const matches = opts.paths?.length ? compileGlobs(opts.paths) : undefined;
  const progress = opts.onProgress ?? (() => undefined);
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const ms = Math.round(now - t);
    t = now;
    return ms;
  };
  const checkout = await openSource(opts.source, opts.commit);
  try {
    const checkoutMs = lap();
    progress(1, 4, 'checked out');
    const files = await findForgeFiles(checkout.dir);
    const projectFiles = files.projects.filter((f) => !matches || matches(f.slice(0, -'/.forge/project.cue'.length) || '.'));
    const findMs = lap();
    progress(2, 4, `found ${projectFiles.length} project(s)`);
    // Discovering a work tree in place: its current branch is the natural default.
    const branch = opts.branch ?? (opts.tag || (checkout.branch && refProblem(checkout.branch)) ? undefined : checkout.branch);
    const source: DiscoveryOutput['source'] = {
      ...(isGitUrl(opts.source) ? { repository: redactUrl(opts.source) } : {}),
      commit: checkout.commit,
      ...(branch ? { branch } : {}),
      ...(opts.tag ? { tag: opts.tag } : {}),
      ...(opts.paths?.length ? { paths: opts.paths } : {}),
    };
    const slots = opts.slots ?? DEFAULT_SLOTS;
    if (!files.repo) {
      if (files.projects.length > 0) {
        throw new ForgeError('NOT_A_FORGE_REPO', `found ${files.projects.length} project(s) but no .forge/repo.cue at the repository root`, [
          { file: files.projects[0]!, message: 'a project needs the repository configuration .forge/repo.cue at the root' },
        ]);
      }
      const output = emptyDiscovery(source, slots, 'no .forge/repo.cue: not a forge repository, nothing to run');
      return finish(output, { checkoutMs, findMs, evaluateMs: 0, buildMs: 0 });
    }
    const evaluated = await evaluateForgeFiles(checkout.dir, files.repo, projectFiles, opts.cueLimits);
    const evaluateMs = lap();
    progress(3, 4, 'evaluated configuration');
    const output = buildDiscovery({
      repoFile: files.repo,
      repo: evaluated.repo,
      projects: projectFiles.map((file, i) => ({ file, config: evaluated.projects[i]! })),
      source,
      context: { branch, tag: opts.tag },
      slots,
    });
    output.warnings.push(...files.skipped.map((s) => `${s.file}: skipped (${s.reason})`));
    const buildMs = lap();
    progress(4, 4, 'built discovery output');
    return finish(output, { checkoutMs, findMs, evaluateMs, buildMs });
  } finally {
    await checkout.cleanup();
  }
}

function finish(output: DiscoveryOutput, timings: DiscoverResult['timings']): DiscoverResult {
  const json = `${JSON.stringify(output)}\n`;
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_OUTPUT_BYTES) {
    throw new ForgeError(
      'OUTPUT_TOO_LARGE',
      `discovery output is ${bytes} bytes, over the 1 MiB limit (${output.projects.length} projects): split the repository or narrow discovery with a path filter`,
    );
  }
  return { output, json, timings };
}

function emptyDiscovery(source: DiscoveryOutput['source'], slots: number, warning: string): DiscoveryOutput {
  return {
    apiVersion: 'forge.dev/v1alpha1',
    kind: 'Discovery',
    source,
    repository: { forgeVersion: 'v1.0.0', tagging: { strategy: 'monorepo' }, phases: {}, publishers: {} },
    projects: [],
    phaseGroups: [],
    slots: Array.from({ length: slots }, (_, i) => ({ slot: i + 1, group: null, tasks: [] })),
    releaseEnabled: false,
    releaseProjects: [],
    warnings: [warning],
  };
}
