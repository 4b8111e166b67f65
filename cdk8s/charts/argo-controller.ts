import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { stringify } from 'yaml';
import { standardLabels } from '../constructs/labels.ts';
import type { PlatformConfig } from '../platform-config.ts';
import { restrictedContainer } from '../constructs/security-context.ts';

/**
 * The settings of Argo's workflow-controller that the library relies on, as the controller's
 * ConfigMap (`argo-controller.yaml`; docs/installing.md):
 *
 * - `workflowRestrictions.templateReferencing: Secure`: the controller runs only Workflows that
 *   reference a WorkflowTemplate, refuses a Workflow that sets any spec field beyond the allowed
 *   ones (serviceAccountName, podSpecPatch, volumes, securityContext, templates… — from Argo
 *   3.7.14 / 4.0.5 / 4.1.0), and errors a running Workflow whose template changed. Whoever may
 *   create a Workflow could otherwise run any pod as any service account of the namespace.
 * - `executor`: Argo's `init` and `wait` containers, which run in every workflow pod next to the
 *   step container, get requests and limits and the same hardened security context as the steps
 *   (non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault).
 *
 * Each value is the YAML text Argo reads from its key. A cluster whose controller ConfigMap is
 * managed elsewhere (a Helm release) merges these keys into it instead.
 */

export const TEMPLATE_REFERENCING = 'Secure';

/** Minimum controller releases that enforce the field allow-list under `Secure`, per line. */
export const MINIMUM_SECURE_ARGO = ['v3.7.14', 'v4.0.5', 'v4.1.0'] as const;

/** The `data` of the controller's ConfigMap. */
export function controllerSettings(config: PlatformConfig): Record<string, string> {
  const uid = config.steps.runAsUser;
  return {
    workflowRestrictions: stringify({ templateReferencing: TEMPLATE_REFERENCING }),
    executor: stringify({
      resources: {
        requests: { ...config.argo.executorResources.requests },
        limits: { ...config.argo.executorResources.limits },
      },
      securityContext: restrictedContainer(uid),
    }),
  };
}

/** The controller's ConfigMap, in the controller's namespace (not the library's). */
export class ArgoControllerChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    const { controllerNamespace, controllerConfigMap } = config.argo;
    super(scope, id, { namespace: controllerNamespace, disableResourceNameHashes: true });
    const model = new ConfigMap({
      metadata: {
        name: controllerConfigMap,
        namespace: controllerNamespace,
        labels: standardLabels('argo-controller'),
        annotations: {
          'forge.dev/minimum-argo-version': MINIMUM_SECURE_ARGO.join(', '),
        },
      },
      data: controllerSettings(config),
    });
    model.validate();
    new ApiObject(this, controllerConfigMap, model.toJSON() as ConstructorParameters<typeof ApiObject>[2]);
  }
}
