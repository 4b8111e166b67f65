/**
 * Synthesizes the manifest sets conformance checks (`npm run synth` with each platform
 * configuration) and loads them with `yaml`'s parseAllDocuments.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { ManifestFile, ManifestSet } from './suite.ts';

export interface Variant {
  name: string;
  description: string;
  /** Writes the platform config for this variant into `file`; absent = `npm run synth` as is. */
  writeConfig?: (exampleConfig: Record<string, unknown>, file: string) => Promise<void>;
  /** Output directory; absent = `<tmpDir>/<name>`. */
  outdir?: (repoRoot: string) => string;
  /** Checks the set has the shape the variant is for; returns problems. */
  verify?: (set: ManifestSet) => string[];
}

/** A fixed, obviously synthetic digest for the digest variant. */
export const VARIANT_DIGEST = `sha256:${createHash('sha256').update('forge-workflows conformance').digest('hex')}`;

export const VARIANTS: Variant[] = [
  {
    name: 'example',
    // Plain `npm run synth`: FORGE_PLATFORM_CONFIG from the environment, if set, applies as it does there.
    description: process.env.FORGE_PLATFORM_CONFIG
      ? `FORGE_PLATFORM_CONFIG=${process.env.FORGE_PLATFORM_CONFIG}`
      : 'cdk8s/platform.example.yaml: image by tag, artifact repository',
    outdir: (repoRoot) => join(repoRoot, 'dist', 'manifests'),
  },
  {
    name: 'digest-no-artifact-repo',
    description: 'platform.example.yaml with the images pinned by digest and no artifactRepositoryRef',
    async writeConfig(example, file) {
      const config = structuredClone(example);
      delete config.artifactRepositoryRef;
      const images = config.images as Record<string, { repository: string }>;
      for (const [name, image] of Object.entries(images)) images[name] = { repository: image.repository, digest: VARIANT_DIGEST } as typeof image;
      await writeFile(file, `# written by test/conformance (variant digest-no-artifact-repo)\n${stringify(config)}`);
    },
    verify(set) {
      const problems: string[] = [];
      for (const file of set.files) {
        for (const { object } of file.docs) {
          const text = JSON.stringify(object);
          if (text.includes('"artifactRepositoryRef"')) problems.push(`${file.label}: still has artifactRepositoryRef`);
          for (const image of text.match(/"image":"[^"]*"/g) ?? []) {
            if (!image.includes(`@${VARIANT_DIGEST}`)) problems.push(`${file.label}: ${image} is not pinned to ${VARIANT_DIGEST}`);
          }
        }
      }
      return problems;
    },
  },
];

export interface SynthResult {
  set?: ManifestSet;
  /** What synth printed (or why it failed). */
  output: string;
  ok: boolean;
  problems: string[];
}

export async function synthVariant(variant: Variant, repoRoot: string, tmpDir: string): Promise<SynthResult> {
  const outdir = variant.outdir?.(repoRoot) ?? join(tmpDir, variant.name);
  const env: Record<string, string> = { FORGE_SYNTH_OUTDIR: outdir };
  if (variant.writeConfig) {
    const exampleFile = join(repoRoot, 'cdk8s', 'platform.example.yaml');
    const example = parse(await readFile(exampleFile, 'utf8')) as Record<string, unknown>;
    const configFile = join(tmpDir, `${variant.name}.platform.yaml`);
    await variant.writeConfig(example, configFile);
    env.FORGE_PLATFORM_CONFIG = configFile;
  }
  const result = await execa('npm', ['run', '--silent', 'synth'], { cwd: repoRoot, env, reject: false, timeout: 180_000 });
  const output = [result.stdout, result.stderr].map((s) => s.trim()).filter(Boolean).join('\n');
  if (result.exitCode !== 0) return { ok: false, output: output || (result.message ?? ''), problems: [`npm run synth exited with ${result.exitCode ?? result.signal}`] };

  const set: ManifestSet = {
    name: variant.name,
    description: variant.description,
    dir: outdir,
    files: await loadManifests(outdir, variant.outdir ? (f) => relative(repoRoot, f) : (f) => `${variant.name}/${relative(outdir, f)}`),
  };
  const problems = set.files.length === 0 ? [`no manifests in ${outdir}`] : (variant.verify?.(set) ?? []);
  return { set, ok: problems.length === 0, output, problems };
}

/** Every `*.yaml` in `dir` (sorted), each document parsed; empty documents are dropped. */
export async function loadManifests(dir: string, label: (file: string) => string): Promise<ManifestFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort();
  const files: ManifestFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const docs = parseAllDocuments(await readFile(path, 'utf8'), { prettyErrors: true });
    const parseErrors = docs.flatMap((d) => d.errors.map((e) => e.message.split('\n')[0]!));
    files.push({
      path,
      label: label(path),
      docs: parseErrors.length > 0 ? [] : docs.map((d, index) => ({ index, object: d.toJS() as unknown })).filter((d) => d.object !== null && d.object !== undefined),
      parseErrors,
    });
  }
  return files;
}
