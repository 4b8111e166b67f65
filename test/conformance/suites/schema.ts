/**
 * Suite `schema`: every Argo object (WorkflowTemplate, Workflow, ClusterWorkflowTemplate,
 * CronWorkflow) validates against ../shared/argo/<version>/schema.json, by its kind's definition;
 * every other object at least names its apiVersion, kind and metadata.name.
 */
import { join } from 'node:path';
import { isArgoObject, objectLabel } from '../../security/security.ts';
import { loadArgoSchema } from '../argo-schema.ts';
import { countKinds, fail, pass, type Check, type ManifestFile, type Suite } from '../suite.ts';

export const ARGO_VERSION = 'v4.1.2';

function basicProblems(object: unknown): string[] {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return ['is not a mapping'];
  const o = object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const problems: string[] = [];
  if (typeof o.apiVersion !== 'string' || !o.apiVersion) problems.push('apiVersion is missing');
  if (typeof o.kind !== 'string' || !o.kind) problems.push('kind is missing');
  if (typeof o.metadata?.name !== 'string' || !o.metadata.name) problems.push('metadata.name is missing');
  return problems;
}

export const schemaSuite: Suite = {
  name: 'schema',
  description: `Argo objects against Argo ${ARGO_VERSION} schema.json; other objects have apiVersion, kind, metadata.name`,
  async run(ctx) {
    const schema = await loadArgoSchema(join(ctx.sharedDir, 'argo', ARGO_VERSION, 'schema.json'));
    const checks: Check[] = [];
    const checkFile = (file: ManifestFile): Check => {
      if (file.parseErrors.length > 0) return fail('schema', file.label, 'not valid YAML', file.parseErrors);
      if (file.docs.length === 0) return fail('schema', file.label, 'no objects', ['the file holds no YAML documents']);
      const details: string[] = [];
      const argo: unknown[] = [];
      const other: unknown[] = [];
      for (const { index, object } of file.docs) {
        if (isArgoObject(object)) {
          argo.push(object);
          for (const e of schema.validate(object.kind, object)) details.push(`document ${index} ${objectLabel(object)}: ${e}`);
        } else {
          other.push(object);
          for (const p of basicProblems(object)) details.push(`document ${index}: ${p}`);
        }
      }
      const summary = [argo.length > 0 ? countKinds(argo) : '', other.length > 0 ? `not Argo: ${countKinds(other)}` : ''].filter(Boolean).join('; ');
      return details.length > 0 ? fail('schema', file.label, summary, details) : pass('schema', file.label, summary);
    };
    for (const set of ctx.manifestSets) for (const file of set.files) checks.push(checkFile(file));
    return checks;
  },
};
