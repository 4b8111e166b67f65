import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { promotionSettingsSchema } from '../../steps/lib/promotion-settings.ts';
import { SETTINGS_CONFIGMAP } from '../../workflows/verify-and-promote.ts';
import { standardLabels } from '../constructs/labels.ts';
import type { PlatformConfig } from '../platform-config.ts';

/**
 * The named promotion settings as a ConfigMap the verify-and-promote steps mount: keys, scan and
 * promotion policies are chosen by name at submission and defined only here.
 */
export class PromotionChart extends Chart {
  constructor(scope: Construct, id: string, config: PlatformConfig) {
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });
    if (!config.promotion) return;
    const { transparencyLog, verificationKeys, scanPolicies, promotionPolicies, attestationPublicKey, scanner, scanWaitSeconds } = config.promotion;
    const settings = promotionSettingsSchema.parse({ transparencyLog, verificationKeys, scanPolicies, promotionPolicies, attestationPublicKey, scanner, scanWaitSeconds });
    const model = new ConfigMap({
      metadata: { name: SETTINGS_CONFIGMAP, namespace: config.namespace, labels: standardLabels('verify-and-promote') },
      data: { 'settings.json': `${JSON.stringify(settings, null, 2)}\n` },
    });
    model.validate();
    new ApiObject(this, SETTINGS_CONFIGMAP, model.toJSON() as ConstructorParameters<typeof ApiObject>[2]);
  }
}
