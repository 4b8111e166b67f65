import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ajv from 'ajv';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';
import { formatErrors } from '../conformance/argo-schema.ts';
import manifest from '../../images/toolchain/tools.json' with { type: 'json' };

/**
 * Upstream files the installer caches from pinned Go modules (images/toolchain/tools.json
 * "files", images/toolchain/upstream-files.mjs), and a validator for a CustomResourceDefinition's
 * schema. A missing file fails naming the install command; nothing of them is committed.
 */
const toolsHome = process.env.FORGE_TOOLS_HOME || join(homedir(), '.cache', 'forge-workflows');
type FileSet = keyof typeof manifest.files;

export function upstreamFile(set: FileSet, file: string): string {
  const entry = manifest.files[set];
  if (!(entry.files as string[]).includes(file)) throw new Error(`images/toolchain/tools.json files.${set} does not list ${file}`);
  const path = join(toolsHome, 'files', set, entry.version, file);
  if (!existsSync(path)) throw new Error(`${path} is missing: run node images/toolchain/install.mjs --only ${set} (npm run tools:install installs it)`);
  return path;
}

export const readYaml = (path: string) => parse(readFileSync(path, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

type Schema = Record<string, unknown> & { type?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: unknown };

/**
 * A structural schema as `kubectl apply` holds objects to it (field validation `Strict`, its
 * default): an object with declared properties and no `x-kubernetes-preserve-unknown-fields`
 * takes no other field. `metadata` is left open (the API server checks ObjectMeta itself).
 */
function strict(schema: Schema, root = true): Schema {
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, root && k === 'metadata' ? v : strict(v, false)]));
    if (schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (schema.items) out.items = strict(schema.items, false);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.additionalProperties = strict(schema.additionalProperties as Schema, false);
  return out;
}

/** Validates objects against one version of a CRD's `openAPIV3Schema`; returns readable errors, none when valid. */
export function crdValidator(crdFile: string, version: string): (object: unknown) => string[] {
  const crd = readYaml(crdFile);
  const schema = (crd.spec.versions as { name: string; schema: { openAPIV3Schema: Schema } }[]).find((v) => v.name === version)?.schema.openAPIV3Schema;
  if (!schema) throw new Error(`${crdFile} has no version ${version}`);
  const Ajv = ajv.default;
  const checker = new Ajv({ strict: false, allErrors: true });
  ajvFormats.default(checker);
  for (const f of ['int32', 'int64']) checker.addFormat(f, { type: 'number', validate: (n: number) => Number.isInteger(n) });
  const validate = checker.compile(strict(schema));
  return (object) => (validate(object) ? [] : formatErrors(validate.errors ?? []));
}
