import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { WorkflowTemplateObject } from '../constructs/workflow-template.ts';
import type { PlatformConfig } from '../platform-config.ts';
import { workflowTemplates } from '../../workflows/index.ts';

/** Every WorkflowTemplate of the library, one object each. */
export class TemplatesChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });
    for (const template of workflowTemplates(config)) new WorkflowTemplateObject(this, template);
  }
}
