import { mkdirSync, writeFileSync } from 'node:fs';

// `--image`: the api-server artifact's producer (src/image.mjs). The other modes stand in for a
// real build's steps and write what they would package into dist/.
if (process.argv.includes('--image')) {
  await import('./image.mjs');
} else {
  mkdirSync('dist', { recursive: true });
  const kind = process.argv.includes('--image-context') ? 'image-context' : process.argv.includes('--manifest') ? 'manifest' : 'bundle';
  writeFileSync(`dist/${kind}.txt`, `api ${kind}\n`);
  console.log(`built api ${kind}`);
}
