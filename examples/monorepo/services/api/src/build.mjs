import { mkdirSync, writeFileSync } from 'node:fs';

// Stands in for a real build: writes what it would package into dist/.
mkdirSync('dist', { recursive: true });
const kind = process.argv.includes('--image') ? 'image' : process.argv.includes('--manifest') ? 'manifest' : 'bundle';
writeFileSync(`dist/${kind}.txt`, `api ${kind}\n`);
console.log(`built api ${kind}`);
