import pkg from '../../package.json' with { type: 'json' };

/** The library version every object is labelled with (Argo has no template versions of its own). */
export const LIBRARY_VERSION = pkg.version;

/** The standard labels of every object forge-workflows creates. */
export function standardLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'forge-workflows',
    'app.kubernetes.io/part-of': 'forge-workflows',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/version': LIBRARY_VERSION,
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}
