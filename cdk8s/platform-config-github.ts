import { z } from 'zod';
import { dnsLabel } from './platform-config-primitives.ts';

/**
 * The `github` section of the platform configuration (docs/platform-config.md, docs/submitting.md):
 * where forge-pipeline's exit handler sets the run's commit status (`ci/catalyst-forge`:
 * success, failure or error, linking to the run in the Argo UI). Without it the pipeline sets no
 * commit status.
 */
const httpsBase = (example: string) =>
  z
    .string()
    .regex(/^https:\/\/[a-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/, `must be an https:// URL without query, e.g. ${example}`)
    .transform((u) => u.replace(/\/+$/, ''));

export const githubSchema = z.strictObject({
  /** GitHub's REST API: `https://api.github.com`, or an Enterprise server's `https://<host>/api/v3`. */
  apiUrl: httpsBase('https://api.github.com').default('https://api.github.com'),
  /**
   * The Secret (in the workflows' namespace) holding a token that may write commit statuses of the
   * product repositories (fine-grained: "Commit statuses: write"; a GitHub App installation token
   * kept fresh by the platform). Reaches only the status step, as GITHUB_TOKEN.
   */
  tokenSecret: z.strictObject({ name: dnsLabel, key: z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, 'must be a Secret key').default('token') }),
  /** The Argo UI people open: the status links to `<uiBaseUrl>/workflows/<namespace>/<workflow>`. */
  uiBaseUrl: httpsBase('https://argo.example.com'),
});
export type GithubConfig = z.infer<typeof githubSchema>;
