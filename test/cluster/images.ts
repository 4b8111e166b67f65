/** The locally built images (images/cluster/images.mjs archives), imported into containerd. */
import fs from 'node:fs';
import { ctr } from './kubectl.ts';
import { ClusterError, log, paths } from './layout.ts';

/** containerd's images: name → digest (`ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS). */
function storedImages(): Map<string, string> {
  return new Map(
    ctr(['images', 'ls'])
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f.length > 2)
      .map((f): [string, string] => [f[0]!, f[2]!]),
  );
}

/** Imports the image archives containerd does not hold yet; returns the names re-imported. */
export function importImages(): Set<string> {
  const imported = new Set<string>();
  const images = paths().images;
  // Re-import when the archive's manifest differs.
  const present = storedImages();
  for (const [name, img] of Object.entries(images)) {
    let want = '';
    try {
      want = fs.readFileSync(`${img.archive}.digest`, 'utf8').trim();
    } catch {
      /* older archive without a digest file: import it */
    }
    if (want && present.get(img.ref) === want) continue;
    if (!fs.existsSync(img.archive)) throw new ClusterError(`image ${name}`, `archive ${img.archive} missing (node images/cluster/build.mjs)`);
    const started = Date.now();
    ctr(['images', 'import', '--no-unpack=false', img.archive]);
    imported.add(name);
    log(`image ${img.ref} imported in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
  // Everything else in the store is an older build (earlier step image tags, and the `sha256:<id>`
  // names CRI gives every image): remove them so containerd collects their layers.
  const now = storedImages();
  const keep = new Set(Object.values(images).map((img) => now.get(img.ref)));
  const stale = [...now].filter(([, digest]) => !keep.has(digest)).map(([ref]) => ref);
  if (stale.length) {
    ctr(['images', 'rm', ...stale], true);
    log(`containerd: removed ${stale.length} image name(s) of earlier builds`);
  }
  return imported;
}
