/**
 * The template–tool contract, written once: how a WorkflowTemplate hands a step tool its values
 * and where the tool leaves its results. The tools (steps/lib/cli.ts, each tool's CLI) and the
 * templates (cdk8s/constructs/step-template.ts, workflows/*.ts) both read it from here, so a
 * renamed output or option cannot drift between the two sides.
 */

/** `target-repository` → `FORGE_TARGET_REPOSITORY`: the variable that carries an option. */
export function envName(option: string): string {
  return `FORGE_${option.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Argo passes an optional parameter that has no value as `""`: to the tools an empty variable is
 * unset (a flag, and then the option's default, decides).
 */
export function envValue(option: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[envName(option)];
  return value === undefined || value === '' ? undefined : value;
}

/** Where step tools write the files their outputs are read from (`valueFrom.path`). */
export const OUTPUTS_DIR = '/tmp/outputs';

/** Kubernetes shows this file's content as the node's message in the Argo UI. */
export const TERMINATION_LOG = '/dev/termination-log';

/** The output files of each step tool, by output name. */
export const OUTPUT_FILES = {
  resolve: { digest: 'digest', reference: 'reference', 'image-info': 'image.json', 'trusted-repository': 'trusted-repository' },
  verify: { signer: 'signer' },
  scan: { 'scan-summary': 'scan-summary.json', passed: 'passed' },
  policy: { 'policy-results': 'policy-results' },
  copy: { 'trusted-reference': 'trusted-reference' },
  attest: { 'attestation-digest': 'attestation-digest' },
  record: { 'record-id': 'record-id', created: 'created', 'event-id': 'event-id' },
  discover: {
    discovery: 'discovery.json',
    summary: 'summary.json',
    'project-count': 'project-count',
    'group-count': 'group-count',
    'release-projects': 'release-projects',
    releases: 'releases',
  },
  // The release stage's pool jobs (forge-release, forge-deploy).
  'release-plan': { artifacts: 'artifacts', images: 'images', trigger: 'trigger' },
  artifact: { artifact: 'artifact.json', uri: 'uri' },
  release: { number: 'number', aliases: 'aliases.json', image: 'release-image', environments: 'environments' },
  'deploy-plan': { 'needs-approval': 'needs-approval', release: 'release' },
  deploy: { 'pointer-commit': 'pointer-commit', pointer: 'pointer' },
} as const satisfies Record<string, Record<string, string>>;

/** Discovery's per-slot task lists: `group-1 … group-N`, each in its own file of that name. */
export const groupOutput = (slot: number): string => `group-${slot}`;

export type StepTool = keyof typeof OUTPUT_FILES;
export type OutputName<T extends StepTool> = keyof (typeof OUTPUT_FILES)[T] & string;

/** The file an output is read from. */
export function outputFile<T extends StepTool>(tool: T, output: OutputName<T>): string {
  return (OUTPUT_FILES[tool] as Record<string, string>)[output]!;
}

/** A tool's outputs keyed by output name → the files to write (what `stepMain` writes under --outputs-dir). */
export function outputFiles<T extends StepTool>(tool: T, values: Partial<Record<OutputName<T>, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [outputFile(tool, name as OutputName<T>), value as string]));
}
