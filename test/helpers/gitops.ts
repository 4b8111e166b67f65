import { execa } from 'execa';
import { join } from 'node:path';

/**
 * A GitOps repository for tests: a bare repository at `<dir>/gitops.git` whose `main` has one
 * empty commit (a pointer writer clones the branch, so it must exist). Returns its path.
 */
export async function createGitopsRepo(dir: string): Promise<string> {
  const remote = join(dir, 'gitops.git');
  await execa('git', ['init', '-q', '--bare', '--initial-branch=main', remote]);
  const seed = join(dir, 'gitops-seed');
  await execa('git', ['clone', '-q', remote, seed]);
  await execa('git', ['-C', seed, '-c', 'user.name=t', '-c', 'user.email=t@e', '-c', 'commit.gpgsign=false', 'commit', '-q', '--allow-empty', '-m', 'GitOps repository']);
  await execa('git', ['-C', seed, 'push', '-q', 'origin', 'HEAD:main']);
  return remote;
}
