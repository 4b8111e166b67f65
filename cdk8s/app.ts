import { App, YamlOutputType } from 'cdk8s';
import type { PlatformConfig } from './platform-config.ts';
import { AdmissionChart } from './charts/admission.ts';
import { PromotionChart } from './charts/promotion.ts';
import { RbacChart } from './charts/rbac.ts';
import { TemplatesChart } from './charts/templates.ts';

/** Builds the cdk8s app: one chart per concern, one YAML file per chart. */
export function buildApp(config: PlatformConfig, outdir: string): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_CHART, outputFileExtension: '.yaml' });
  new RbacChart(app, 'rbac', config);
  new TemplatesChart(app, 'workflow-templates', config);
  if (config.promotion) new PromotionChart(app, 'promotion', config);
  // Kyverno admission policy (cluster-scoped); no chart, hence no empty admission.yaml, when off.
  if (config.admission?.enabled) new AdmissionChart(app, 'admission', config);
  return app;
}
