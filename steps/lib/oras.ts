import { isPlainHttpRegistry, runTool } from './exec.ts';

/** Typed wrapper of the real `oras` CLI (copies between registries; the promotion benchmark's peer). */
export async function orasCopy(source: string, target: string, concurrency = 3): Promise<void> {
  const flags = [
    ...(isPlainHttpRegistry(source) ? ['--from-plain-http'] : []),
    ...(isPlainHttpRegistry(target) ? ['--to-plain-http'] : []),
    '--concurrency',
    String(concurrency),
  ];
  await runTool('oras', ['cp', ...flags, source, target]);
}
