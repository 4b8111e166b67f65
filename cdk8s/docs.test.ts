import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exampleConfig, generateDocs } from './docs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('generated template reference', () => {
  it('is up to date with the template definitions (run `npm run docs` after changing a template)', async () => {
    for (const [file, text] of Object.entries(await generateDocs(await exampleConfig()))) {
      expect(await readFile(`${root}${file}`, 'utf8').catch(() => `missing ${file}`), file).toBe(text);
    }
  });
});
