import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { commonSchema, stepMain, transparencyLogFlag } from '../lib/cli.ts';
import { ForgeError } from '../lib/errors.ts';
import { generate } from './generate.ts';

const usage = `Usage: forge cmp discover|generate [options]

The Argo CD Config Management Plugin (v2) of forge releases, run in the repo server's sidecar
from an application's directory of the GitOps repository (environments/<env>/<repository>/<project>).

  discover   prints release.yaml when the directory holds a ReleasePointer (the plugin applies)
  generate   prints the Kubernetes objects of the release the pointer names, as YAML on stdout:
             the Release OCI image's signature verified with --key, pulled by that digest, its
             resources checked against its metadata and unpacked under limits, sorted by kind and
             name, then the directory's env.yaml

Options (each may also come from FORGE_<OPTION>):
  --dir DIR                  the application's directory (default: the current directory)
  --path PATH                its path in the GitOps repository (default: $ARGOCD_APP_SOURCE_PATH)
  --release-registry PREFIX  where Release OCI images are (<registry>/<prefix>)
  --key KEY                  the release signing public key (file, k8s:// secret or KMS URI)
  --transparency-log true|false   whether signatures are in a Rekor log (say it explicitly)
  --max-bytes N, --max-files N    limits of the resources layer (16 MiB, 1000 files)
`;

const schema = z.object({
  dir: z.string().optional(),
  path: z.string().optional(),
  'release-registry': z.string().optional(),
  key: z.string().optional(),
  'transparency-log': transparencyLogFlag.optional(),
  'max-bytes': z.coerce.number().int().min(1).optional(),
  'max-files': z.coerce.number().int().min(1).optional(),
  ...commonSchema,
});

export async function main(argv: string[]): Promise<void> {
  await stepMain(argv, {
    tool: 'cmp',
    usage,
    schema,
    async run(v, positionals) {
      const dir = v.dir ?? process.cwd();
      const [command] = positionals;
      if (command === 'discover') {
        const text = await lstat(join(dir, 'release.yaml')).then((s) => (s.isFile() ? readFile(join(dir, 'release.yaml'), 'utf8') : ''), () => '');
        const applies = /^kind:\s*ReleasePointer\s*$/m.test(text);
        return { result: { applies }, text: applies ? 'release.yaml\n' : '' };
      }
      if (command !== 'generate') throw new ForgeError('INVALID_ARGS', `forge cmp: expected discover or generate, got ${command ?? 'nothing'}`);
      const path = v.path ?? process.env.ARGOCD_APP_SOURCE_PATH;
      const missing = [!path && '--path (or ARGOCD_APP_SOURCE_PATH)', !v['release-registry'] && '--release-registry', !v.key && '--key', !v['transparency-log'] && '--transparency-log'].filter(Boolean);
      if (missing.length > 0) throw new ForgeError('INVALID_ARGS', `forge cmp generate needs ${missing.join(', ')}`);
      const out = await generate({
        dir, path: path!, releaseRegistry: v['release-registry']!,
        verify: { key: v.key!, transparencyLog: v['transparency-log'] === 'true' },
        limits: { maxBytes: v['max-bytes'], maxFiles: v['max-files'] },
      });
      return { result: { image: out.image, objects: out.objects }, text: out.yaml };
    },
  });
}
