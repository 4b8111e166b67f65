import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/**
 * Test support: `forge <args>` in its own process (node + tsx over steps/cli.ts), the way a step
 * container runs it, with the records' environment cleared so only what a test passes applies.
 */
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));

export function forge(args: string[], env: Record<string, string> = {}) {
  return execa('node', ['--import', 'tsx', cli, ...args], {
    reject: false,
    env: { FORGE_DATABASE_URL: '', FORGE_STATE_DIR: '', FORGE_RUNTIME_ROLE: '', ARGO_WORKFLOW_NAME: '', ARGO_WORKFLOW_UID: '', ARGO_NODE_ID: '', ...env },
  });
}
