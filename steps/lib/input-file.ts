import { readFile } from 'node:fs/promises';
import { ForgeError } from './errors.ts';

/** The text of a file a flag names; unreadable is INVALID_ARGS naming the file and the flag. */
export async function readInputFile(file: string, what: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new ForgeError('INVALID_ARGS', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, [{ file, message: `check the ${flag} path` }]);
  }
}
