/**
 * `forge`: the one command-line entry of the step tools. Each sub-command lives in
 * steps/<tool>/cli.ts and is loaded only when asked for, so a step pod starts quickly.
 */
const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  discover: { summary: 'find and validate projects, phase groups and release triggers', load: () => import('./discover/cli.ts') },
  promote: { summary: 'verify-and-promote an image without a cluster (all steps below, in order)', load: () => import('./promote/cli.ts') },
  resolve: { summary: 'resolve an image reference to its digest and platforms', load: () => import('./resolve/cli.ts') },
  verify: { summary: "verify an image's cosign signature", load: () => import('./verify/cli.ts') },
  scan: { summary: 'gate an image on its Trivy vulnerability report', load: () => import('./scan/cli.ts') },
  policy: { summary: 'check size, digest pinning, no latest, non-root user', load: () => import('./policy/cli.ts') },
  copy: { summary: 'copy the exact digest and its signatures to the trusted registry', load: () => import('./copy/cli.ts') },
  attest: { summary: 'sign and verify the promotion attestation', load: () => import('./attest/cli.ts') },
  record: { summary: 'record the promotion in the allowlist', load: () => import('./record/cli.ts') },
  dispatch: { summary: 'run one Argo task on a hot worker pool and wait for it', load: () => import('./dispatch/cli.ts') },
  summary: { summary: "print a pipeline run's outcome and failed tasks (forge-pipeline's exit handler)", load: () => import('./summary/cli.ts') },
  worker: { summary: 'a hot pool worker: run the jobs of one pool', load: () => import('./worker/cli.ts') },
  records: { summary: 'records database administration: `records migrate` (as the owner)', load: () => import('./record/migrate-cli.ts') },
  approve: { summary: 'approve (or revoke, or list approvals of) a release for a protected environment', load: () => import('./approve/cli.ts') },
  deploy: { summary: 'deploy a release to an environment (policy, approval, GitOps pointer, record)', load: () => import('./deploy/cli.ts') },
  rollback: { summary: 'roll a project in an environment back to an older release (a forward deployment)', load: () => import('./deploy/cli.ts').then((m) => ({ main: m.rollbackMain })) },
  submit: { summary: 'start a run through the Argo Server (create with workflowTemplateRef) and optionally wait for it', load: () => import('./submit/cli.ts') },
  status: { summary: "set a run's commit status on GitHub (ci/catalyst-forge: pending, success, failure, error)", load: () => import('./status/cli.ts') },
  cmp: { summary: "the Argo CD plugin: a release pointer's Kubernetes objects (`cmp discover|generate`)", load: () => import('./cmp/cli.ts') },
};

export async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    const list = Object.entries(commands)
      .map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}`)
      .join('\n');
    const text = `Usage: forge <command> [options]\n\nCommands:\n${list}\n\nRun \`forge <command> --help\` for a command's options.\n`;
    if (name && name !== '--help' && name !== '-h') {
      process.stderr.write(`forge: unknown command "${name}"\n\n${text}`);
      process.exitCode = 2;
    } else {
      process.stdout.write(text);
    }
    return;
  }
  await (await command.load()).main(rest);
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.FORGE_CLI_MAIN === '1') {
  await run(process.argv.slice(2));
}
