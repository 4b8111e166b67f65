#!/usr/bin/env node
// `npx forge …` from a checkout: runs the TypeScript sources through tsx (no build step needed).
// Step images run the esbuild bundle (dist/bundles/forge.mjs) instead.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../steps/cli.ts');
await run(process.argv.slice(2));
