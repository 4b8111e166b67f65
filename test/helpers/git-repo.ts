import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';

export interface TempRepo {
  dir: string;
  commit: string;
  /** Writes (or, with null, deletes) files and commits them; returns the new commit. */
  commitFiles(files: Record<string, string | null>, message?: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** A real git repository in a temporary directory, with the given files committed. */
export async function createRepo(files: Record<string, string>, opts: { symlinks?: Record<string, string> } = {}): Promise<TempRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-test-repo-'));
  const git = simpleGit(dir);
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.email', 'test@forge.invalid');
  await git.addConfig('user.name', 'forge test');
  await git.addConfig('commit.gpgsign', 'false');
  const repo: TempRepo = {
    dir,
    commit: '',
    async commitFiles(changes, message = 'change') {
      for (const [path, content] of Object.entries(changes)) {
        if (content === null) {
          await rm(join(dir, path), { force: true });
        } else {
          await mkdir(dirname(join(dir, path)), { recursive: true });
          await writeFile(join(dir, path), content);
        }
      }
      await git.add(['-A']);
      await git.commit(message, ['--allow-empty']);
      repo.commit = (await git.revparse(['HEAD'])).trim();
      return repo.commit;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [link, target] of Object.entries(opts.symlinks ?? {})) {
    await mkdir(dirname(join(dir, link)), { recursive: true });
    await symlink(target, join(dir, link));
  }
  await repo.commitFiles(files, 'initial');
  return repo;
}

/** Files of a small valid forge repository: three projects, two phase groups. */
export function sampleRepo(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    '.forge/repo.cue': `package repo
forgeVersion: "v1.0.0"
tagging: strategy: "monorepo"
phases: {
	lint: {group: 1, description: "Lint", timeout: "5m", required: true}
	build: {group: 1, description: "Build", timeout: "15m"}
	test: {group: 2, description: "Test", timeout: "20m"}
}
publishers: registry: {type: "docker", registry: "localhost:5000"}
`,
    'services/api/.forge/project.cue': `package project
name: "api"
ci: phases: {
	lint: check: {action: "earthly", target: "+lint"}
	build: {
		compile: {action: "earthly", target: "+build", priority: 10}
		package: {action: "earthly", target: "+package", priority: 5}
		docs: {action: "earthly", target: "+docs", priority: 5}
	}
	test: unit: {action: "earthly", target: "+test", timeout: "3m"}
}
artifacts: "api-server": {type: "container", producer: earthly: target: "+image", publishers: registry: {}}
release: on: [{branch: "main"}, {tag: true}]
deployment: resources: [{apiVersion: "apps/v1", kind: "Deployment", metadata: name: "api"}]
`,
    'services/worker/.forge/project.cue': `package project
name: "worker"
ci: phases: {
	lint: check: {action: "script", target: "make", args: ["lint"]}
	test: unit: {action: "script", target: "make", args: ["test"]}
}
release: on: [{branch: "release/.*"}]
`,
    'libs/common/.forge/project.cue': `package project
name: "common"
ci: phases: lint: check: {action: "earthly", target: "+lint"}
`,
    ...overrides,
  };
}

/**
 * Temporary repositories for one test file: `repo(files)` makes one, and every repository made
 * is removed after each test (register `cleanup` with afterEach).
 */
export function tempRepos(): { repo: typeof createRepo; cleanup: () => Promise<void> } {
  const made: TempRepo[] = [];
  return {
    async repo(files, opts) {
      const r = await createRepo(files, opts);
      made.push(r);
      return r;
    },
    cleanup: async () => {
      await Promise.all(made.splice(0).map((r) => r.cleanup()));
    },
  };
}
