import { describe, expect, test } from 'vitest';
import { branchMatches, checkDeployment, environmentsSchema } from './environment-policy.ts';

// The reference's three environments (the defaults) and what each admits.
const environments = environmentsSchema.parse(undefined);

describe('checkDeployment', () => {
  test('dev takes every release and deploys it on its own', () => {
    expect(checkDeployment(environments, 'dev', { trigger: 'branch_push', branch: 'feature/login' })).toEqual({ allowed: true, requiresApproval: false, autoDeploy: true });
    expect(checkDeployment(environments, 'dev', { trigger: 'manual' })).toMatchObject({ allowed: true });
  });

  test('staging: main and release/* branches, tags, manual; no approval, no auto-deploy', () => {
    expect(checkDeployment(environments, 'staging', { trigger: 'branch_push', branch: 'release/1.x' })).toEqual({ allowed: true, requiresApproval: false, autoDeploy: false });
    expect(checkDeployment(environments, 'staging', { trigger: 'branch_push', branch: 'release/1.x/hotfix' })).toEqual({
      allowed: false, rule: 'allowedBranches', message: 'staging takes releases from branches main, release/*; this one is from branch release/1.x/hotfix',
    });
    expect(checkDeployment(environments, 'staging', { trigger: 'branch_push' })).toMatchObject({ allowed: false, rule: 'allowedBranches', message: expect.stringContaining('this one is from no known branch') });
  });

  test('production: tags and manual only, with an approval', () => {
    expect(checkDeployment(environments, 'production', { trigger: 'tag', tag: 'api/v1.2.0' })).toEqual({ allowed: true, requiresApproval: true, autoDeploy: false });
    expect(checkDeployment(environments, 'production', { trigger: 'branch_push', branch: 'main' })).toEqual({
      allowed: false, rule: 'allowedTriggers', message: 'production takes releases made by tag, manual; this one was made by branch_push (branch main)',
    });
    expect(checkDeployment(environments, 'qa', { trigger: 'tag' })).toEqual({ allowed: false, rule: 'environment', message: 'no environment qa in the platform config (known: dev, staging, production)' });
  });

  test('the policy schema refuses what it cannot enforce', () => {
    expect(() => environmentsSchema.parse({ Prod: { allowedTriggers: ['tag'] } })).toThrow(/must be an environment name/);
    expect(() => environmentsSchema.parse({ prod: { allowedTriggers: ['push'] } })).toThrow(/allowedTriggers/);
    expect(() => environmentsSchema.parse({ prod: { allowedTriggers: ['tag'], allowedBranches: ['main|.*'] } })).toThrow(/must be a branch name or a pattern/);
    expect(() => environmentsSchema.parse({ prod: { allowedTriggers: ['tag'], autoDeploy: 'yes' } })).toThrow();
    expect(environmentsSchema.parse({ prod: { allowedTriggers: ['tag'] } }).prod).toEqual({ allowedTriggers: ['tag'], allowedBranches: ['*'], autoDeploy: false, requiresApproval: false, approvalTtlHours: 24 });
  });
});

describe('branchMatches', () => {
  test.each([
    ['main', 'main', true], ['main', 'main2', false], ['release/*', 'release/1.x', true], ['release/*', 'release/1.x/a', false],
    ['release/**', 'release/1.x/a', true], ['*', 'feature/x', true], ['feat-*', 'feat-a', true], ['a.b', 'aXb', false], ['main', '', false],
  ])('%s ~ %s → %s', (pattern, branch, expected) => expect(branchMatches(pattern, branch)).toBe(expected));
});
