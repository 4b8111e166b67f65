import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';

/**
 * The Kubernetes schemas rendered resources are checked against (the kinds applications deploy,
 * from `kubernetes-models`, imported statically so the step bundle carries them). Other kinds —
 * custom resources — are checked for apiVersion, kind and metadata.name only.
 */
type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': ConfigMap, 'v1/Secret': Secret, 'v1/Service': Service, 'v1/ServiceAccount': ServiceAccount, 'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet, 'apps/v1/DaemonSet': DaemonSet,
  'batch/v1/Job': Job, 'batch/v1/CronJob': CronJob,
  'networking.k8s.io/v1/Ingress': Ingress, 'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role, 'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/** The schema's complaints about `object` (empty when it passes, or when its kind has no schema here). */
export function schemaProblems(object: { apiVersion: string; kind: string }): { path: string; message: string }[] {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [];
  try {
    new Model(object as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!errors?.length) return [{ path: '', message: (e as Error).message }];
    return errors.map((x) => ({ path: x.instancePath.replace(/^\//, '').replaceAll('/', '.'), message: x.message ?? 'invalid' }));
  }
}

export const SCHEMA_KINDS = Object.keys(MODELS);
