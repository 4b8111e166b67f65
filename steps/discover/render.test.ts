import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRepo, type TempRepo } from '../../test/helpers/git-repo.ts';
import { ForgeError } from '../lib/errors.ts';
import { discover } from './discover.ts';
import { renderResources, type ArtifactValues } from './render.ts';

// deployment.resources rendered with the real cue and a release's artifact values injected.
const REPO = 'package repo\nforgeVersion: "v1.0.0"\ntagging: strategy: "monorepo"\nphases: build: {group: 1, description: "Build", timeout: "5m", required: false}\npublishers: incoming: {type: "docker", registry: "incoming.example.test", namespace: "acme"}\n';
const project = (resources: string, artifacts = 'artifacts: "api-server": {type: "container", producer: script: {target: "node"}, publishers: incoming: {}}\n') =>
  `package project\n\nname: "api"\nci: phases: build: b: {action: "script", target: "node"}\n${artifacts}\ndeployment: resources: [${resources}]\n`;
const DEPLOYMENT = `{
	apiVersion: "apps/v1"
	kind:       "Deployment"
	metadata: name: "api"
	spec: {
		selector: matchLabels: app: "api"
		template: {
			metadata: labels: app: "api"
			spec: containers: [{name: "api", image: forge.artifacts["api-server"].uri}]
		}
	}
}, {
	apiVersion: "v1"
	kind:       "ConfigMap"
	metadata: name: "api-release"
	data: {digest: forge.artifacts["api-server"].digest, uri: forge.artifacts["api-server"].uri}
}`;
const released = { 'api-server': { uri: 'trusted.example.test/acme/api@sha256:' + 'a'.repeat(64), digest: 'sha256:' + 'a'.repeat(64) } };

let repos: TempRepo[] = [];
const repo = async (projectText: string) => {
  const r = await createRepo({ '.forge/repo.cue': REPO, 'services/api/.forge/project.cue': projectText });
  repos.push(r);
  return r;
};
const render = (r: TempRepo, artifacts: Record<string, ArtifactValues> = released) =>
  renderResources({ root: r.dir, repoFile: '.forge/repo.cue', projectFile: 'services/api/.forge/project.cue', artifacts });
async function refusal(p: Promise<unknown>): Promise<ForgeError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ForgeError);
  return e as ForgeError;
}

beforeAll(() => {
  repos = [];
});
afterAll(async () => {
  await Promise.all(repos.map((r) => r.cleanup()));
});

describe('renderResources', () => {
  test("the release's values reach the resources; one YAML file per object", async () => {
    const r = await repo(project(DEPLOYMENT));
    const out = await render(r);
    expect(out.files.map((f) => f.name)).toEqual(['deployment-api.yaml', 'configmap-api-release.yaml']);
    const deployment = YAML.parse(out.files[0]!.content) as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(deployment.spec.template.spec.containers[0]!.image).toBe(released['api-server'].uri);
    expect((YAML.parse(out.files[1]!.content) as { data: Record<string, string> }).data).toEqual({ digest: released['api-server'].digest, uri: released['api-server'].uri });
  }, 60_000);

  test('values are injected as data, never as CUE source: quotes, braces and newlines arrive intact', async () => {
    const r = await repo(project('{apiVersion: "v1", kind: "ConfigMap", metadata: name: "x", data: u: forge.artifacts["api-server"].uri}'));
    const hostile = 'a" }\nforge: artifacts: "x": {uri: "owned"} // \\(n)';
    const out = await render(r, { 'api-server': { uri: hostile, digest: 'sha256:' + 'b'.repeat(64) } });
    expect((YAML.parse(out.files[0]!.content) as { data: { u: string } }).data.u).toBe(hostile);
  }, 60_000);

  test('discovery of the same project still works (the values are placeholders until a release)', async () => {
    const r = await repo(project(DEPLOYMENT));
    const d = await discover({ source: r.dir, commit: r.commit });
    expect(d.output.projects.map((p) => p.name)).toEqual(['api']);
  }, 60_000);

  test('an artifact the project does not declare fails in cue, naming the file', async () => {
    const r = await repo(project('{apiVersion: "v1", kind: "ConfigMap", metadata: name: "x", data: u: forge.artifacts["nope"].uri}'));
    const e = await refusal(render(r));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details.some((d) => d.file === 'services/api/.forge/project.cue' && /nope/.test(d.message))).toBe(true);
  }, 60_000);

  test('a declared artifact this release did not publish is named, with the resource', async () => {
    const r = await repo(project(DEPLOYMENT));
    const e = await refusal(render(r, {}));
    expect(e.message).toBe('services/api/.forge/project.cue: 2 problem(s) in deployment.resources');
    expect(e.details.map((d) => d.message)).toEqual([
      'deployment.resources[0] (Deployment api) uses artifact api-server, which this release did not publish',
      'deployment.resources[1] (ConfigMap api-release) uses artifact api-server, which this release did not publish',
    ]);
  }, 60_000);

  test("publisher and producer outputs reach the resources; one the release did not give is named with the resource", async () => {
    const r = await repo(project(`{apiVersion: "v1", kind: "ConfigMap", metadata: name: "outputs", data: {
	tag:  forge.artifacts["api-server"].publishers.incoming.tag
	repo: "\\(forge.artifacts["api-server"].publishers.incoming.registry)/\\(forge.artifacts["api-server"].publishers.incoming.repository)"
	size: forge.artifacts["api-server"].producer.size
}}`));
    const outputs = { ...released['api-server'], producer: { digest: released['api-server'].digest, size: '1234', layers: '3' }, publishers: { incoming: { uri: released['api-server'].uri, registry: 'incoming.example.test', repository: 'acme/api/api-server', tag: 'sha-' + 'c'.repeat(40), digest: released['api-server'].digest, namespace: 'acme' } } };
    const out = await render(r, { 'api-server': outputs });
    expect((YAML.parse(out.files[0]!.content) as { data: Record<string, string> }).data).toEqual({ tag: 'sha-' + 'c'.repeat(40), repo: 'incoming.example.test/acme/api/api-server', size: '1234' });
    // Discovery evaluates the same references as placeholders.
    expect((await discover({ source: r.dir, commit: r.commit })).output.projects.map((p) => p.name)).toEqual(['api']);
    const { tag: _tag, ...withoutTag } = outputs.publishers.incoming;
    const e = await refusal(render(r, { 'api-server': { ...outputs, producer: {}, publishers: { incoming: withoutTag } } }));
    expect(e.details.map((d) => d.message)).toEqual([
      "deployment.resources[0] (ConfigMap outputs) uses output tag of artifact api-server's publisher incoming, which this release did not publish",
      "deployment.resources[0] (ConfigMap outputs) uses output size of artifact api-server's producer, which this release did not publish",
    ]);
  }, 60_000);

  test('publisher outputs are data too, and an output of a publisher the artifact does not list fails in cue', async () => {
    const r = await repo(project('{apiVersion: "v1", kind: "ConfigMap", metadata: name: "x", data: t: forge.artifacts["api-server"].publishers.incoming.tag}'));
    const hostile = '"}\nforge: artifacts: "api-server": uri: "owned" // \\(x)';
    const out = await render(r, { 'api-server': { ...released['api-server'], publishers: { incoming: { tag: hostile } } } });
    expect((YAML.parse(out.files[0]!.content) as { data: { t: string } }).data.t).toBe(hostile);
    const other = await repo(project('{apiVersion: "v1", kind: "ConfigMap", metadata: name: "x", data: t: forge.artifacts["api-server"].publishers.github.tag}'));
    const e = await refusal(render(other));
    expect(e.code).toBe('CUE_INVALID');
    expect(e.details.some((d) => d.file === 'services/api/.forge/project.cue' && /github/.test(d.message))).toBe(true);
    await expect(render(r, { 'api-server': { ...released['api-server'], publishers: { incoming: { 'Bad Name': 'x' } } } })).rejects.toThrow(/output name "Bad Name" is not a lower-case name/);
  }, 60_000);

  test('objects that fail their Kubernetes schema are refused with the field', async () => {
    const r = await repo(project('{apiVersion: "apps/v1", kind: "Deployment", metadata: name: "api", spec: {replicas: "two", selector: {}, template: {}}}', ''));
    const e = await refusal(render(r, {}));
    expect(e.details).toContainEqual({ file: 'services/api/.forge/project.cue', field: 'deployment.resources.0.spec.replicas', message: 'deployment.resources[0] (Deployment api): spec.replicas must be integer' });
  }, 60_000);
});
