import { buildDiscovery } from '../../steps/discover/contract.ts';
import { discover } from '../../steps/discover/discover.ts';
import { evaluateForgeFiles } from '../../steps/discover/evaluate.ts';
import { findForgeFiles } from '../../steps/discover/find.ts';
import { createRepo } from '../helpers/git-repo.ts';

/** A repository at the reference's limit: 100 projects, each in 4 phases over 3 groups. */
export function generateRepo(projects = 100): Record<string, string> {
  const files: Record<string, string> = {
    '.forge/repo.cue': `package repo
forgeVersion: "v1.0.0"
tagging: strategy: "monorepo"
phases: {
	lint: {group: 1, description: "Lint", timeout: "5m", required: true}
	build: {group: 1, description: "Build", timeout: "15m"}
	test: {group: 2, description: "Test", timeout: "20m", required: true}
	publish: {group: 3, description: "Publish", timeout: "10m"}
}
publishers: registry: {type: "docker", registry: "registry.example.com", credentials: {provider: "aws", path: "docker/creds"}}
`,
  };
  for (let i = 0; i < projects; i++) {
    const name = `svc-${String(i).padStart(3, '0')}`;
    files[`services/team-${i % 10}/${name}/.forge/project.cue`] = `package project
name: "${name}"
ci: phases: {
	lint: {check: {action: "earthly", target: "+lint"}, format: {action: "earthly", target: "+fmt", priority: 1}}
	build: {compile: {action: "earthly", target: "+build", priority: 10, args: ["--platform=linux/amd64"]}, package: {action: "earthly", target: "+package"}}
	test: {unit: {action: "earthly", target: "+test", timeout: "10m"}, integration: {action: "earthly", target: "+it", secrets: [{provider: "aws", path: "test/${name}"}]}}
	publish: image: {action: "earthly", target: "+publish"}
}
artifacts: "${name}": {type: "container", producer: earthly: target: "+image", publishers: registry: tags: ["sha"]}
release: on: [{branch: "main"}, {tag: true}]
deployment: resources: [{apiVersion: "apps/v1", kind: "Deployment", metadata: name: "${name}", spec: replicas: 2}]
`;
  }
  return files;
}

/** The naive way: the same discovery, but one cue process per project. */
async function naiveDiscover(dir: string, commit: string): Promise<number> {
  const files = await findForgeFiles(dir);
  const projects = [];
  for (const file of files.projects) {
    const { repo, projects: [config] } = await evaluateForgeFiles(dir, files.repo!, [file]);
    projects.push({ file, config: config!, repo });
  }
  const out = buildDiscovery({
    repoFile: files.repo!,
    repo: projects[0]!.repo,
    projects: projects.map(({ file, config }) => ({ file, config })),
    source: { commit },
    context: { branch: 'main' },
    slots: 6,
  });
  return out.projects.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchDiscovery(log: (line: string) => void): Promise<string> {
  const repo = await createRepo(generateRepo(100));
  try {
    await discover({ source: repo.dir, branch: 'main' }); // warm the page cache and cue's first start
    const runs: number[] = [];
    let bytes = 0;
    let timings = {};
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const result = await discover({ source: repo.dir, branch: 'main' });
      runs.push(performance.now() - t);
      bytes = Buffer.byteLength(result.json);
      timings = result.timings;
      if (result.output.projects.length !== 100) throw new Error(`expected 100 projects, got ${result.output.projects.length}`);
    }
    log(`discovery (one cue process): runs ${runs.map((r) => r.toFixed(0)).join(', ')} ms; last run phases ${JSON.stringify(timings)}`);
    const naiveRuns: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const n = await naiveDiscover(repo.dir, repo.commit);
      naiveRuns.push(performance.now() - t);
      if (n !== 100) throw new Error(`naive: expected 100 projects, got ${n}`);
    }
    log(`discovery (naive, cue per project): runs ${naiveRuns.map((r) => r.toFixed(0)).join(', ')} ms`);
    const x = median(runs);
    const y = median(naiveRuns);
    return `discovery: 100 projects in ${x.toFixed(0)} ms (naive ${y.toFixed(0)} ms, ${(y / x).toFixed(1)}× faster), output ${bytes} bytes`;
  } finally {
    await repo.cleanup();
  }
}
