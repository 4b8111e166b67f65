import { z } from 'zod';

/**
 * Environment promotion policies (reference §4.5): which releases may deploy to an environment
 * (the trigger that made them and, for branch releases, the branch), whether that happens on its
 * own, and whether a person must approve first. A refusal says which rule and what the release had.
 */
export const TRIGGERS = ['branch_push', 'tag', 'manual'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** A branch pattern: `*` matches within one path segment, `**` across them (`release/*`); `*` alone is any branch. */
const branchPattern = z.string().min(1).max(255).regex(/^[A-Za-z0-9._/*-]+$/, 'must be a branch name or a pattern with * (letters, digits, . _ / - *)');

export const environmentPolicySchema = z.strictObject({
  allowedTriggers: z.array(z.enum(TRIGGERS)).min(1),
  allowedBranches: z.array(branchPattern).min(1).default(['*']),
  autoDeploy: z.boolean().default(false),
  requiresApproval: z.boolean().default(false),
  /** How long an approval counts (hours; 24 by default). */
  approvalTtlHours: z.number().min(1).max(24 * 30).default(24),
});
export type EnvironmentPolicy = z.infer<typeof environmentPolicySchema>;

export const environmentsSchema = z
  .record(z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be an environment name (DNS label)'), environmentPolicySchema)
  .default({
    dev: environmentPolicySchema.parse({ allowedTriggers: ['branch_push', 'tag', 'manual'], allowedBranches: ['*'], autoDeploy: true }),
    staging: environmentPolicySchema.parse({ allowedTriggers: ['branch_push', 'tag', 'manual'], allowedBranches: ['main', 'release/*'] }),
    production: environmentPolicySchema.parse({ allowedTriggers: ['tag', 'manual'], allowedBranches: ['main'], requiresApproval: true }),
  });

/** What a deployment request knows of its release. */
export interface ReleaseFacts {
  trigger: Trigger;
  /** The branch the release was made from (branch releases; tag releases when known). */
  branch?: string;
  tag?: string;
}

export type PolicyDecision =
  | { allowed: true; requiresApproval: boolean; autoDeploy: boolean }
  | { allowed: false; rule: 'allowedTriggers' | 'allowedBranches' | 'environment'; message: string };

export function checkDeployment(environments: Record<string, EnvironmentPolicy>, environment: string, release: ReleaseFacts): PolicyDecision {
  const policy = environments[environment];
  if (!policy) return { allowed: false, rule: 'environment', message: `no environment ${environment} in the platform config (known: ${Object.keys(environments).join(', ') || 'none'})` };
  if (!policy.allowedTriggers.includes(release.trigger)) {
    return { allowed: false, rule: 'allowedTriggers', message: `${environment} takes releases made by ${policy.allowedTriggers.join(', ')}; this one was made by ${release.trigger}${release.tag ? ` (tag ${release.tag})` : release.branch ? ` (branch ${release.branch})` : ''}` };
  }
  // A branch rule binds releases made from a branch; tag and manual releases carry none to check.
  if (release.trigger === 'branch_push' && !policy.allowedBranches.some((p) => branchMatches(p, release.branch ?? ''))) {
    return { allowed: false, rule: 'allowedBranches', message: `${environment} takes releases from branches ${policy.allowedBranches.join(', ')}; this one is from ${release.branch ? `branch ${release.branch}` : 'no known branch'}` };
  }
  return { allowed: true, requiresApproval: policy.requiresApproval, autoDeploy: policy.autoDeploy };
}

export function branchMatches(pattern: string, branch: string): boolean {
  if (!branch) return false;
  if (pattern === '*') return true;
  const source = pattern
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${source}$`).test(branch);
}
