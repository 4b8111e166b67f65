import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { generateKeyPair, signImage } from '../../steps/lib/cosign.ts';
import { copy } from '../../steps/lib/crane.ts';
import { orasCopy } from '../../steps/lib/oras.ts';
import { openDatabase } from '../../steps/lib/records/db.ts';
import { PromotionRecords } from '../../steps/lib/records/records.ts';
import { promote, type PromoteConfig } from '../../steps/promote/promote.ts';
import { buildImage } from '../helpers/images.ts';
import { startRegistry } from '../helpers/registry.ts';
import { trivyReport } from '../helpers/trivy.ts';

const LAYERS = 10;
const LAYER_BYTES = 100 * 1024 * 1024;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/**
 * A 1 GB image (10 layers of random bytes, so nothing compresses) promoted incoming → trusted
 * across two registries, against `crane copy` and `oras cp` of the same image in the same run,
 * then the same-registry case, where blobs are mounted instead of copied.
 */
export async function benchPromote(log: (line: string) => void): Promise<string> {
  const [incoming, trusted] = await Promise.all([startRegistry(), startRegistry()]);
  const work = await mkdtemp(join(tmpdir(), 'forge-bench-promote-'));
  const db = await openDatabase({ dataDir: join(work, 'records') });
  try {
    const keys = await generateKeyPair(await mkdtemp(join(work, 'keys-')));
    const repository = `${incoming.host}/team/big`;
    const t = performance.now();
    const digest = await buildImage(`${repository}:1.0.0`, { user: '1000', layers: LAYERS, layerBytes: LAYER_BYTES });
    log(`built ${LAYERS} × ${LAYER_BYTES / 1024 ** 2} MiB image ${digest} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await signImage(`${repository}@${digest}`, { key: keys.privateKey, transparencyLog: false });
    const report = join(work, 'report.json');
    await writeFile(report, JSON.stringify(trivyReport(repository, digest, '1000')));
    const config = (trusted: string): PromoteConfig => ({
      incoming: incoming.host,
      trusted,
      verify: { key: keys.publicKey, transparencyLog: false },
      scanReport: report,
      scan: {},
      policy: { maxCompressedBytes: 2 * 1024 ** 3 },
      attest: { key: keys.privateKey, verifyKey: keys.publicKey },
      workflow: { name: 'bench', uid: '' },
    });
    const records = new PromotionRecords(db);

    const source = `${repository}@${digest}`;
    // Two rounds in opposite orders, each measurement after `sync` so no run pays for the previous
    // run's dirty pages; each tool's best round counts (the same rule for all three).
    const rounds: { crane: number; oras: number; promote: number; copy: number; steps: string }[] = [];
    for (const [round, order] of [['a', ['crane', 'oras', 'promote']], ['b', ['promote', 'oras', 'crane']]] as const) {
      const r = { crane: 0, oras: 0, promote: 0, copy: 0, steps: '' };
      for (const tool of order) {
        await execa('sync');
        if (tool === 'crane') r.crane = await timed(() => copy(source, `${trusted.host}/crane-${round}/big@${digest}`));
        if (tool === 'oras') r.oras = await timed(() => orasCopy(source, `${trusted.host}/oras-${round}/big@${digest}`));
        if (tool === 'promote') {
          r.promote = await timed(async () => {
            const result = await promote(`${repository}:1.0.0`, config(`${trusted.host}/forge-${round}`), records);
            r.steps = result.steps.map((s) => `${s.step} ${s.ms} ms`).join(', ');
            r.copy = result.steps.find((s) => s.step === 'promote')!.ms / 1000;
          });
        }
      }
      log(`round ${round} (${order.join(' → ')}): crane ${r.crane.toFixed(1)} s, oras ${r.oras.toFixed(1)} s, forge promote ${r.promote.toFixed(1)} s (${r.steps})`);
      rounds.push(r);
    }
    const best = (k: 'crane' | 'oras' | 'promote' | 'copy') => Math.min(...rounds.map((r) => r[k]));
    const [craneS, orasS, promoteS, copyS] = [best('crane'), best('oras'), best('promote'), best('copy')];
    log(`best of two: crane ${craneS.toFixed(1)} s, oras ${orasS.toFixed(1)} s, forge promote ${promoteS.toFixed(1)} s of which the copy ${copyS.toFixed(1)} s`);
    log(`whole chain ${(promoteS / Math.min(craneS, orasS)).toFixed(2)}× the faster bare copy (it also verifies and attests)`);
    await execa('sync');
    const same = await timed(() => promote(`${repository}:1.0.0`, config(`${incoming.host}/trusted`), records));
    log(`forge promote within one registry (blobs mounted): ${same.toFixed(1)} s`);
    const small = await buildImage(`${repository}-small:1.0.0`, { user: '1000' });
    await signImage(`${repository}-small@${small}`, { key: keys.privateKey, transparencyLog: false });
    await writeFile(report, JSON.stringify(trivyReport(`${repository}-small`, small, '1000')));
    const sameSmall = await timed(() => promote(`${repository}-small:1.0.0`, config(`${incoming.host}/trusted`), records));
    log(`forge promote within one registry of a 1-layer image: ${sameSmall.toFixed(1)} s (size independence: ${(same / sameSmall).toFixed(2)}× the small one)`);
    const faster = Math.min(craneS, orasS);
    // The headline compares like with like: the promotion's copy against the bare copies. The
    // whole chain (verification and attestation included) is printed above it.
    return `promote: 1 GB in ${copyS.toFixed(1)} s (crane ${craneS.toFixed(1)} s, oras ${orasS.toFixed(1)} s; ratio ${(copyS / faster).toFixed(2)}), same-registry ${same.toFixed(1)} s`;
  } finally {
    await db.close();
    await Promise.all([incoming.stop(), trusted.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}
