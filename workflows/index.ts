import type { IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';
import type { PlatformConfig } from '../cdk8s/platform-config.ts';
import { discoveryTemplate } from './discovery.ts';
import { phaseTemplate } from './phase.ts';
import { pipelineTemplate } from './pipeline.ts';
import { deployTemplate } from './deploy.ts';
import { releaseTemplate } from './release.ts';
import { verifyAndPromoteTemplate } from './verify-and-promote.ts';

/** The library's WorkflowTemplates, in the order they run. */
export function workflowTemplates(config: PlatformConfig): IWorkflowTemplate[] {
  return [discoveryTemplate(config), phaseTemplate(config), pipelineTemplate(config), verifyAndPromoteTemplate(config), releaseTemplate(config), deployTemplate(config)].filter((t): t is IWorkflowTemplate => t !== undefined);
}
