import { ForgeError } from '../errors.ts';

/**
 * The tags a `docker` publisher pushes under, from the project's `tags` (default `["sha"]`):
 * `sha` → `sha-<commit>`, `branch` → the branch made tag-safe, `tag` → the git tag made tag-safe
 * (`api/v1.2.3` → `api-v1.2.3`); anything else is a literal tag and must be a valid OCI tag.
 * `branch` and `tag` are skipped when the release has no branch or no tag; at least one tag must
 * remain. Tags are immutable like every published artifact: a tag that holds another digest is
 * refused, so `branch` and literal tags fit releases that happen once per value.
 */
const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** A git ref name as an OCI tag: other characters become `-`, no leading `.`/`-`, at most 128. */
export function tagSafe(ref: string): string {
  const t = ref.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '').slice(0, 128);
  return t;
}

export function imageTags(wanted: string[], git: { commit: string; branch?: string; tag?: string }, where: string): string[] {
  const out: string[] = [];
  for (const w of wanted) {
    const t = w === 'sha' ? `sha-${git.commit}` : w === 'branch' ? (git.branch ? tagSafe(git.branch) : '') : w === 'tag' ? (git.tag ? tagSafe(git.tag) : '') : w;
    if (w !== 'branch' && w !== 'tag' && !OCI_TAG.test(t)) throw new ForgeError('ARTIFACT_FAILED', `${where}: tags: ${JSON.stringify(w)} is not sha, branch, tag or a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
    if (t && !out.includes(t)) out.push(t);
  }
  if (out.length === 0) throw new ForgeError('ARTIFACT_FAILED', `${where}: tags ${JSON.stringify(wanted)} give no tag for this release (no ${git.branch ? 'git tag' : 'branch'})`);
  return out;
}
