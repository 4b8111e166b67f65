import { z } from 'zod';
import { LIMITS, NAME } from './limits.ts';

/**
 * TypeScript view of what `cue export` returns after the schema (steps/lib/cue/forge.cue) has
 * validated and defaulted the files. CUE is the validator users see; these types only make the
 * evaluated values usable from TypeScript, and catch a schema/code mismatch early.
 */
/** Every name that reaches a task id, an Argo parameter or a Kubernetes name: `#Name` of the shipped schema. */
const name = z.string().max(LIMITS.nameLength).regex(NAME, 'must be lower-case kebab-case (a-z, 0-9, -)');
const duration = z.string().max(32).regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/, 'must be a duration such as "90s" or "1h30m"');

const secretRef = z.object({
  provider: z.enum(['aws', 'vault', 'github-oidc', 'kubernetes', 'env']),
  name: z.string().optional(),
  path: z.string().optional(),
  secretName: z.string().optional(),
  key: z.string().optional(),
  region: z.string().optional(),
  version: z.string().optional(),
  namespace: z.string().optional(),
  repository: z.string().optional(),
});

export const phaseSchema = z.object({
  group: z.number().int().min(1).max(100),
  description: z.string(),
  timeout: duration,
  required: z.boolean(),
});

export const repoConfigSchema = z.object({
  forgeVersion: z.string(),
  tagging: z.object({ strategy: z.enum(['monorepo', 'tag-all']) }),
  phases: z.record(name, phaseSchema).default({}),
  publishers: z.record(name, z.looseObject({ type: z.string(), credentials: secretRef.optional() })).default({}),
});

export const stepSchema = z.object({
  action: z.enum(['earthly', 'script']),
  target: z.string(),
  priority: z.number().int(),
  args: z.array(z.string()),
  secrets: z.array(secretRef),
  timeout: duration.optional(),
});

const producer = z.object({ target: z.string(), args: z.array(z.string()) });

export const artifactSchema = z.object({
  type: z.enum(['container', 'binary', 'archive']),
  producer: z.object({ earthly: producer.optional(), script: producer.optional() }),
  publishers: z.record(name, z.record(z.string(), z.unknown())).default({}),
});

export const triggerSchema = z.union([z.object({ branch: z.string().min(1) }), z.object({ tag: z.literal(true) })]);

export const projectConfigSchema = z.object({
  name,
  ci: z.object({ phases: z.record(name, z.record(name, stepSchema)).default({}) }).default({ phases: {} }),
  artifacts: z.record(name, artifactSchema).default({}),
  release: z.object({ on: z.array(triggerSchema).max(LIMITS.triggers), enabled: z.boolean() }).default({ on: [], enabled: true }),
  deployment: z.object({ resources: z.array(z.looseObject({})).default([]) }).default({ resources: [] }),
});

export type RepoConfig = z.infer<typeof repoConfigSchema>;
export type ProjectConfig = z.infer<typeof projectConfigSchema>;
export type StepConfig = z.infer<typeof stepSchema>;
export type Trigger = z.infer<typeof triggerSchema>;
export type Phase = z.infer<typeof phaseSchema>;
