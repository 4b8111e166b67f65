import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTemplate } from '../cdk8s/constructs/workflow-template.ts';
import { OUTPUTS_DIR } from '../steps/lib/contract.ts';
import { loadPlatformConfig, type PlatformConfig } from '../cdk8s/platform-config.ts';
import { options as discoverOptions } from '../steps/discover/cli.ts';
import { envName } from '../steps/lib/contract.ts';
import { createRepo, sampleRepo, type TempRepo } from '../test/helpers/git-repo.ts';
import { cueLimitSettings, DISCOVER_STEP, discoveryTemplate, quantityMiB } from './discovery.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
let config: PlatformConfig;
beforeAll(async () => {
  config = await loadPlatformConfig(join(root, 'cdk8s/platform.example.yaml'));
});

describe('forge-discovery template', () => {
  it('has one group-N output per platform slot, each with a default', () => {
    const t = discoveryTemplate({ ...config, pipeline: { ...config.pipeline, phaseGroupSlots: 4 } });
    const step = t.spec.templates!.find((x) => x.name === DISCOVER_STEP)!;
    const outputs = step.outputs!.parameters!;
    expect(outputs.filter((o) => /^group-\d+$/.test(o.name)).map((o) => o.name)).toEqual(['group-1', 'group-2', 'group-3', 'group-4']);
    expect(outputs.every((o) => o.valueFrom?.default !== undefined)).toBe(true);
    expect(step.container!.env!.find((e) => e.name === 'FORGE_SLOTS')!.value).toBe('4');
  });

  it("bounds cue inside the step container's memory limit and the step's deadline", () => {
    expect(quantityMiB('512Mi')).toBe(512);
    expect(quantityMiB('1Gi')).toBe(1024);
    expect(quantityMiB('1G')).toBeCloseTo(953.67, 1);
    expect(() => quantityMiB('lots')).toThrow(/quantity/);
    const step = discoveryTemplate(config).spec.templates!.find((x) => x.name === DISCOVER_STEP)!;
    const env = (name: string) => step.container!.env!.find((e) => e.name === name)?.value;
    const limitMiB = quantityMiB(step.container!.resources!.limits!.memory as string);
    expect(Number(env('FORGE_CUE_MEMORY_MIB'))).toBe(Math.floor(limitMiB / 2));
    expect(Number(env('FORGE_CUE_MEMORY_MIB'))).toBeLessThan(limitMiB);
    // one run plus the search for the culprit (twice that) fits in the step's deadline
    expect(3 * Number(env('FORGE_CUE_TIMEOUT_SECONDS'))).toBeLessThan(Number(step.activeDeadlineSeconds));
    const large = { ...config, steps: { ...config.steps, resources: { ...config.steps.resources, limits: { cpu: '1', memory: '2Gi' } } } };
    expect(cueLimitSettings(large)['cue-memory-mib']).toBe('1024');
  });

  it('keeps the discovery JSON as an artifact only when an artifact repository is configured', () => {
    const withRepo = discoveryTemplate(config);
    expect(withRepo.spec.artifactRepositoryRef).toEqual(config.artifactRepositoryRef);
    expect(withRepo.spec.templates![0]!.outputs!.artifacts!.map((a) => a.name)).toEqual(['discovery']);
    const without = discoveryTemplate({ ...config, artifactRepositoryRef: undefined });
    expect(without.spec.artifactRepositoryRef).toBeUndefined();
    expect(without.spec.templates![0]!.outputs!.artifacts).toBeUndefined();
  });

  it('passes inputs as environment variables the tool understands, never through a shell', () => {
    const step = discoveryTemplate(config).spec.templates!.find((x) => x.name === DISCOVER_STEP)!;
    expect(step.container!.command).toEqual(['forge', 'discover']);
    expect(step.container!.args).toBeUndefined();
    const known = new Set(Object.keys(discoverOptions).map(envName));
    for (const env of step.container!.env!.filter((e) => e.name.startsWith('FORGE_'))) {
      expect(known, `${env.name} is not an option of forge discover`).toContain(env.name);
    }
  });

  it('is checked for UI metadata and name length', () => {
    const t = discoveryTemplate(config);
    expect(() => checkTemplate(t)).not.toThrow();
    expect(() => checkTemplate({ ...t, metadata: { ...t.metadata, name: 'x'.repeat(64) } })).toThrow(/1–63 characters/);
    expect(() => checkTemplate({ ...t, metadata: { ...t.metadata, annotations: {} } })).toThrow(/workflows\.argoproj\.io\/title/);
    const noDescription = structuredClone(t);
    delete noDescription.spec.arguments!.parameters![0]!.description;
    expect(() => checkTemplate(noDescription)).toThrow(/parameters\[repo-url\] needs a description/);
  });
});

describe('forge-discovery template runs the real step tool', () => {
  let repo: TempRepo;
  let outputs: string;
  beforeAll(async () => {
    repo = await createRepo(sampleRepo());
    outputs = await mkdtemp(join(tmpdir(), 'forge-argo-outputs-'));
  });
  afterAll(async () => {
    await repo.cleanup();
    await rm(outputs, { recursive: true, force: true });
  });

  it('writes every declared output file when run with the container env of the template', async () => {
    const step = discoveryTemplate(config).spec.templates!.find((x) => x.name === DISCOVER_STEP)!;
    const inputs: Record<string, string> = { 'repo-url': `file://${repo.dir}`, commit: repo.commit, branch: 'main', tag: '', paths: '' };
    // What Argo does: substitute {{inputs.parameters.*}} in env values; we only move /tmp/outputs.
    const env = Object.fromEntries(
      step.container!.env!.map((e) => [
        e.name,
        e.value!.replace(/\{\{inputs\.parameters\.([a-z-]+)\}\}/g, (_, n: string) => inputs[n]!).replace(OUTPUTS_DIR, outputs),
      ]),
    );
    const result = await execa(join(root, 'bin/forge.mjs'), step.container!.command!.slice(1), {
      env: { ...env, HOME: process.env.HOME, ARGO_NODE_ID: 'test-node' },
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).source.commit).toBe(repo.commit);
    for (const o of step.outputs!.parameters!) {
      const file = o.valueFrom!.path!.replace(OUTPUTS_DIR, outputs);
      expect(existsSync(file), `${o.name} → ${file}`).toBe(true);
    }
    expect(JSON.parse(await readFile(join(outputs, 'group-1'), 'utf8')).length).toBe(4);
    expect(await readFile(join(outputs, 'release-projects'), 'utf8')).toBe('["api"]');
    // structured logs in Argo: one JSON object per line on stderr
    expect(result.stderr.trim().split('\n').every((l) => JSON.parse(l).tool === 'discover')).toBe(true);
  });
});
