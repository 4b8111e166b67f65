import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../cdk8s/app.ts';
import { loadPlatformConfig } from '../../cdk8s/platform-config.ts';

/**
 * Golden YAML of every synthesized chart, compared semantically (parsed objects, so key order and
 * formatting do not matter). Regenerate only on purpose: `npm run test:golden:update`
 * (FORGE_UPDATE_GOLDEN=1), which CI refuses.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const update = process.env.FORGE_UPDATE_GOLDEN === '1';
if (update && process.env.CI) throw new Error('FORGE_UPDATE_GOLDEN is refused in CI: regenerate golden files locally and commit them');

const config = await loadPlatformConfig(fileURLToPath(new URL('../../cdk8s/platform.example.yaml', import.meta.url)));
const app = buildApp(config, '/nonexistent');

describe('golden manifests (cdk8s/platform.example.yaml)', () => {
  for (const chart of app.charts) {
    const file = `${here}${chart.node.id}.yaml`;
    it(`${chart.node.id} matches test/golden/${chart.node.id}.yaml`, async () => {
      const actual = chart.toJson();
      if (update) {
        await writeFile(file, actual.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
        return;
      }
      expect(existsSync(file), `missing golden file ${file}: run npm run test:golden:update`).toBe(true);
      const expected = parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS());
      expect(actual).toEqual(expected);
    });
  }
});
