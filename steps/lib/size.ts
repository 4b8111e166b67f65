import { ForgeError } from './errors.ts';

/** The size syntax of promotion policies and `--max-size`: `500MiB`, `2GiB`, `1.5GB`, `1024`. Defined here only. */
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i;

const UNITS: Readonly<Record<string, number>> = Object.freeze({ b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 });

/** Bytes of a size written in SIZE_PATTERN's syntax. */
export function parseSize(text: string): number {
  const m = SIZE_PATTERN.exec(text.trim());
  if (!m) throw new ForgeError('INVALID_ARGS', `size "${text}" is not a size like 500MiB or 2GiB`);
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}
