import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForgeError, type ForgeErrorDetail } from '../lib/errors.ts';
import { importProblem, scanCueHeader } from './cue-source.ts';
import { LIMITS } from './limits.ts';

/**
 * Reads the forge configuration files of a checkout for evaluation, refusing before `cue` runs
 * what a repository's file may not be or do: larger than LIMITS.cueFileBytes (all together
 * LIMITS.cueTotalBytes), another package than the one expected, file attributes
 * (`@extern(embed)` reads other files, `@if` drops the file), and imports of anything but CUE's
 * standard library — another project's package or a module (docs/discovery-contract.md).
 * `files[0]` is `.forge/repo.cue` (package repo), the rest `project.cue` (package project).
 * Returns the bytes in the same order (what cue gets is exactly what was checked).
 */
export async function readForgeSources(root: string, files: string[]): Promise<Buffer[]> {
  const sizes = await Promise.all(files.map(async (file) => (await lstat(join(root, file))).size));
  const tooLarge: ForgeErrorDetail[] = files.flatMap((file, i) =>
    sizes[i]! > LIMITS.cueFileBytes ? [{ file, message: `${sizes[i]} bytes, over the ${LIMITS.cueFileBytes / 1024} KiB limit of a forge configuration file` }] : [],
  );
  const total = sizes.reduce((a, b) => a + b, 0);
  if (tooLarge.length > 0 || total > LIMITS.cueTotalBytes) {
    throw new ForgeError(
      'DISCOVERY_INVALID',
      tooLarge.length > 0
        ? `${tooLarge.length} forge configuration file(s) are too large`
        : `the forge configuration files total ${total} bytes, over the ${LIMITS.cueTotalBytes / 1024 / 1024} MiB limit: narrow discovery with a path filter`,
      tooLarge,
    );
  }
  const contents = await Promise.all(files.map((file) => readFile(join(root, file))));
  const details: ForgeErrorDetail[] = [];
  contents.forEach((bytes, i) => {
    const file = files[i]!;
    if (bytes.length > LIMITS.cueFileBytes) {
      details.push({ file, message: `over the ${LIMITS.cueFileBytes / 1024} KiB limit of a forge configuration file` });
      return;
    }
    details.push(...headerProblems(file, bytes.toString('utf8'), i === 0 ? 'repo' : 'project'));
  });
  if (details.length > 0) {
    details.sort((a, b) => a.file!.localeCompare(b.file!) || (a.line ?? 0) - (b.line ?? 0));
    const files = new Set(details.map((d) => d.file)).size;
    throw new ForgeError('CUE_INVALID', `${files} forge configuration file(s) refused before evaluation (package, attributes, imports)`, details);
  }
  return contents;
}

function headerProblems(file: string, text: string, expected: string): ForgeErrorDetail[] {
  const header = scanCueHeader(text);
  const problems: ForgeErrorDetail[] = [];
  for (const a of header.fileAttributes) {
    problems.push({
      file,
      line: a.line,
      column: a.column,
      message: `file attribute ${a.text} is not allowed: forge configuration is one self-contained file (no @extern(embed), no @if)`,
    });
  }
  if (header.package !== expected) {
    problems.push({
      file,
      line: header.packageLine,
      column: 1,
      message: header.package ? `expected \`package ${expected}\`, found \`package ${header.package}\`` : `missing \`package ${expected}\` clause`,
    });
  }
  for (const imp of header.imports) {
    const problem = importProblem(imp.path);
    if (problem) problems.push({ file, line: imp.line, column: imp.column, message: problem });
  }
  if (header.unreadable) {
    problems.push({ file, ...header.unreadable, message: 'import declaration not understood: write `import "path"` or `import ( "path" … )` with plain string paths' });
  }
  return problems;
}
