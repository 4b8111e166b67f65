import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** True inside an Argo Workflows pod (the executor sets ARGO_NODE_ID on every step container). */
export function inArgo(): boolean {
  return Boolean(process.env.ARGO_NODE_ID);
}

/**
 * Writes an output file that a template reads with `valueFrom.path`. Written to a temporary
 * name and renamed, so Argo never reads a half-written value.
 */
export async function writeOutput(path: string, value: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, value);
  await rename(tmp, path);
}

/** Reports `done/total` to the Argo UI through the file named by ARGO_PROGRESS_FILE (no-op elsewhere). */
export async function reportProgress(done: number, total: number): Promise<void> {
  const file = process.env.ARGO_PROGRESS_FILE;
  if (!file) return;
  await writeFile(file, `${done}/${total}\n`).catch(() => undefined);
}
