import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import { WorkflowTemplate, type IWorkflowTemplate } from '@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/WorkflowTemplate';

/** Argo rejects longer Workflow/WorkflowTemplate names (workflow/validate: maxCharsInObjectName). */
export const MAX_NAME = 63;

/**
 * Adds a typed WorkflowTemplate to a chart. The object is validated with the Argo model's schema
 * when constructed, and checked for the rules DESIGN.md adds (names, titles, parameter
 * descriptions) so a mistake fails `npm run synth`, not a workflow submission.
 */
export class WorkflowTemplateObject extends ApiObject {
  constructor(scope: Construct, template: IWorkflowTemplate) {
    checkTemplate(template);
    const model = new WorkflowTemplate(template);
    model.validate();
    super(scope, template.metadata.name!, model.toJSON() as unknown as ConstructorParameters<typeof ApiObject>[2]);
  }
}

export function checkTemplate(t: IWorkflowTemplate): void {
  const name = t.metadata.name ?? '';
  const problems: string[] = [];
  if (!name || name.length > MAX_NAME) problems.push(`metadata.name "${name}" must be 1–${MAX_NAME} characters`);
  const annotations = t.metadata.annotations ?? {};
  for (const key of ['workflows.argoproj.io/title', 'workflows.argoproj.io/description']) {
    if (!annotations[key]) problems.push(`metadata.annotations["${key}"] is required (the Argo UI shows it)`);
  }
  if (!t.metadata.labels?.['app.kubernetes.io/version']) problems.push('metadata.labels["app.kubernetes.io/version"] is required');
  for (const p of t.spec.arguments?.parameters ?? []) {
    if (!p.description) problems.push(`spec.arguments.parameters[${p.name}] needs a description`);
  }
  const names = new Set((t.spec.templates ?? []).map((x) => x.name));
  if (t.spec.entrypoint && !names.has(t.spec.entrypoint)) problems.push(`spec.entrypoint "${t.spec.entrypoint}" is not a template`);
  for (const tmpl of t.spec.templates ?? []) {
    for (const p of tmpl.inputs?.parameters ?? []) {
      if (!p.description) problems.push(`template ${tmpl.name}: input ${p.name} needs a description`);
    }
    for (const task of tmpl.dag?.tasks ?? []) {
      if (task.template && !names.has(task.template)) problems.push(`template ${tmpl.name}: task ${task.name} uses unknown template ${task.template}`);
    }
  }
  if (problems.length > 0) throw new Error(`WorkflowTemplate ${name}:\n  ${problems.join('\n  ')}`);
}
