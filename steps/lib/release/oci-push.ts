import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPlainHttpRegistry, runTool } from '../exec.ts';
import { OCI_MANIFEST } from './media-types.ts';
import { sha256 } from './resources-layer.ts';

/**
 * Pushes an OCI artifact whose manifest is built here — blobs with `oras blob push`, then the
 * manifest with `oras manifest push` under every tag — so its bytes, and its digest, depend only
 * on what goes in: pushing the same content again is a no-op with the same digest.
 */
export interface Blob {
  mediaType: string;
  bytes: Uint8Array;
  annotations?: Record<string, string>;
}

export interface OciArtifact {
  artifactType: string;
  config: Blob;
  layers: Blob[];
  annotations: Record<string, string>;
}

export const plainHttpFlag = (reference: string): string[] => (isPlainHttpRegistry(reference) ? ['--plain-http'] : []);

const descriptor = (b: Blob) => ({ mediaType: b.mediaType, digest: sha256(b.bytes), size: b.bytes.length, ...(b.annotations ? { annotations: b.annotations } : {}) });

export function manifestOf(a: OciArtifact): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: a.artifactType, config: descriptor(a.config), layers: a.layers.map(descriptor), annotations: a.annotations });
}

export async function pushArtifact(repository: string, tags: string[], a: OciArtifact): Promise<{ digest: string; manifest: string }> {
  const manifest = manifestOf(a);
  const dir = await mkdtemp(join(tmpdir(), 'forge-oci-'));
  try {
    for (const [i, blob] of [a.config, ...a.layers].entries()) {
      await writeFile(join(dir, `blob-${i}`), blob.bytes);
      await runTool('oras', ['blob', 'push', ...plainHttpFlag(repository), `${repository}@${sha256(blob.bytes)}`, join(dir, `blob-${i}`)]);
    }
    await writeFile(join(dir, 'manifest.json'), manifest);
    await runTool('oras', ['manifest', 'push', ...plainHttpFlag(repository), '--media-type', OCI_MANIFEST, `${repository}:${tags.join(',')}`, join(dir, 'manifest.json')]);
    return { digest: sha256(Buffer.from(manifest)), manifest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
