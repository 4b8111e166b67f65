import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

/** A `kubernetes-models` object (or any typed model with the same shape). */
export type Model = { toJSON(): unknown; validate(): void; metadata?: { name?: string } };

/**
 * Adds a typed Kubernetes object to a chart, validated against its schema first, so a wrong
 * field fails `npm run synth` rather than `kubectl apply`.
 */
export function addTyped(scope: Construct, model: Model): ApiObject {
  model.validate();
  const json = model.toJSON() as ConstructorParameters<typeof ApiObject>[2];
  return new ApiObject(scope, `${json.kind}-${json.metadata?.namespace}-${json.metadata?.name}`, json);
}
