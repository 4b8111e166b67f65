/**
 * Argo's own JSON schema (`api/jsonschema/schema.json`, from ../shared/argo/<version>/) through
 * Ajv. Quirks of that file (reference/argo-and-cdk8s.md §1(c)): it declares draft 2020-12 but keeps
 * its types under `definitions`; IntOrString is `type: string`; there is no
 * `additionalProperties: false`, so misspelled keys pass (types and `argo lint` catch those).
 */
import { readFile } from 'node:fs/promises';
import ajv2020 from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { ARGO_KINDS, type ArgoKind } from '../security/security.ts';

// ajv and ajv-formats are CommonJS modules that also export themselves as `default`.
const Ajv2020 = ajv2020.default;
const addFormats = ajvFormats.default;

/** Definition name of each Argo kind in schema.json. */
export const ARGO_DEFINITIONS: Record<ArgoKind, string> = Object.fromEntries(
  ARGO_KINDS.map((kind) => [kind, `io.argoproj.workflow.v1alpha1.${kind}`]),
) as Record<ArgoKind, string>;

export interface ArgoSchema {
  /** The schema file it was loaded from. */
  file: string;
  /** Validates one object against the definition of its kind; returns readable errors, none when valid. */
  validate(kind: ArgoKind, object: unknown): string[];
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function integerFormat(range: [bigint, bigint]): { type: 'number'; validate: (n: number) => boolean } {
  return { type: 'number', validate: (n) => Number.isInteger(n) && BigInt(n) >= range[0] && BigInt(n) <= range[1] };
}

export async function loadArgoSchema(file: string): Promise<ArgoSchema> {
  let schema: { $id?: string; definitions?: Record<string, unknown> };
  try {
    schema = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new Error(`cannot read the Argo schema ${file}: ${(cause as Error).message}`, { cause });
  }
  const id = schema.$id ?? 'argo-schema.json';
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, range] of Object.entries(INT_RANGES)) ajv.addFormat(name, integerFormat(range));
  ajv.addSchema({ ...schema, $id: id });

  const validators = new Map<ArgoKind, ValidateFunction>();
  const validatorFor = (kind: ArgoKind): ValidateFunction => {
    let v = validators.get(kind);
    if (!v) {
      const definition = ARGO_DEFINITIONS[kind];
      if (!schema.definitions?.[definition]) throw new Error(`${file} has no definition ${definition}`);
      v = ajv.getSchema(`${id}#/definitions/${definition}`);
      if (!v) throw new Error(`cannot compile ${definition} from ${file}`);
      validators.set(kind, v);
    }
    return v;
  };

  return {
    file,
    validate(kind, object) {
      const v = validatorFor(kind);
      return v(object) ? [] : formatErrors(v.errors ?? []);
    },
  };
}

/** `/spec/templates/0/retryStrategy/limit: must be string`, deduplicated, most specific first. */
export function formatErrors(errors: ErrorObject[]): string[] {
  const lines = errors.map((e) => {
    const where = e.instancePath || '(root)';
    const params = e.keyword === 'additionalProperties' || e.keyword === 'required' || e.keyword === 'enum' || e.keyword === 'const' ? ` ${JSON.stringify(e.params)}` : '';
    return `${where}: ${e.message ?? e.keyword}${params}`;
  });
  return [...new Set(lines)].sort((a, b) => b.split('/').length - a.split('/').length);
}
