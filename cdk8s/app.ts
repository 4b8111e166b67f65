import { App, YamlOutputType } from 'cdk8s';
import type { PlatformConfig } from './platform-config.ts';
import { AdmissionChart } from './charts/admission.ts';
import { addArgocdCharts } from './charts/argocd.ts';
import { NatsChart } from './charts/nats.ts';
import { WorkerPoolsChart } from './charts/worker-pools.ts';
import { ArgoControllerChart } from './charts/argo-controller.ts';
import { PromotionChart } from './charts/promotion.ts';
import { RbacChart } from './charts/rbac.ts';
import { TemplatesChart } from './charts/templates.ts';
import { WorkflowAdmissionChart } from './charts/workflow-admission.ts';

/** Builds the cdk8s app: one chart per concern, one YAML file per chart. */
export function buildApp(config: PlatformConfig, outdir: string): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART, outputFileExtension: '.yaml' });
  new RbacChart(app, 'rbac', config);
  new TemplatesChart(app, 'workflow-templates', config);
  if (config.promotion) new PromotionChart(app, 'promotion', config);
  // Hot pools: the NATS JetStream server (unless an existing one is used) and each pool's workers.
  if (config.pools.nats.deploy) new NatsChart(app, 'nats', config);
  new WorkerPoolsChart(app, 'worker-pools', config);
  // Kyverno admission policy (cluster-scoped); no chart, hence no empty admission.yaml, when off.
  if (config.admission?.enabled) new AdmissionChart(app, 'admission', config);
  // The controller settings the templates rely on (templateReferencing: Secure), in Argo's namespace.
  new ArgoControllerChart(app, 'argo-controller', config);
  // For controllers older than 3.7.14 / 4.0.5 / 4.1.0: Workflows may only reference library templates.
  if (config.argo.workflowAdmission?.enabled) new WorkflowAdmissionChart(app, 'workflow-admission', config);
  // Argo CD (release.argocd): the plugin's ConfigMaps and the Applications, and the repo-server patch.
  if (config.release?.argocd) addArgocdCharts(app, config);
  return app;
}
