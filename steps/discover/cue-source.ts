/**
 * Reads the header of a CUE file without evaluating it: file attributes, the package clause and
 * the import declarations, each with its position. Discovery uses it to refuse, before `cue` runs,
 * what a repository's forge file may not do (import another project's package or a module,
 * embed files); the evaluation is also set up so that none of it could resolve anyway
 * (steps/discover/evaluate.ts). CUE's grammar puts attributes, then `package`, then every
 * `import` before any other declaration, and has only `//` comments, so a small scanner suffices.
 */
export interface CueHeader {
  /** The package name, undefined when the file has no package clause. */
  package?: string;
  /** Line of the package clause (1-based), or of the first declaration when there is none. */
  packageLine: number;
  imports: { path: string; line: number; column: number }[];
  /** Attributes before the package clause (`@extern(embed)`, `@if(…)`), as written. */
  fileAttributes: { text: string; line: number; column: number }[];
  /** An import declaration the scanner could not read: refused rather than guessed at. */
  unreadable?: { line: number; column: number };
}

const IDENT = /#?[A-Za-z_$][A-Za-z0-9_$]*/y;
const STRING = /"(?:[^"\\\n]|\\.)*"/y;

export function scanCueHeader(text: string): CueHeader {
  let i = 0;
  const lineStarts = [0];
  for (let n = text.indexOf('\n'); n >= 0; n = text.indexOf('\n', n + 1)) lineStarts.push(n + 1);
  const position = (at: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - lineStarts[lo]! + 1 };
  };
  const skipSpace = () => {
    for (;;) {
      while (i < text.length && /[ \t\r\n,]/.test(text[i]!)) i++;
      if (text.startsWith('//', i)) {
        const end = text.indexOf('\n', i);
        i = end < 0 ? text.length : end;
      } else return;
    }
  };
  const word = (): string | undefined => {
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    return m ? m[0] : undefined;
  };
  const header: CueHeader = { packageLine: 1, imports: [], fileAttributes: [] };

  skipSpace();
  while (text[i] === '@') {
    const start = i;
    const close = attributeEnd(text, i);
    header.fileAttributes.push({ text: text.slice(start, Math.min(close, start + 80)), ...position(start) });
    i = close;
    skipSpace();
  }
  header.packageLine = position(i).line;
  if (word() !== 'package') return header;
  i += 'package'.length;
  skipSpace();
  header.package = word();
  if (!header.package) return header;
  i += header.package.length;

  for (;;) {
    skipSpace();
    if (text[i] === '@') {
      i = attributeEnd(text, i); // cue accepts declaration attributes among the imports
      continue;
    }
    const at = i;
    if (word() !== 'import') return header;
    i += 'import'.length;
    skipSpace();
    if (text[i] === ':') return header; // a field named `import`
    const grouped = text[i] === '(';
    if (grouped) i++;
    for (;;) {
      skipSpace();
      if (grouped && text[i] === ')') {
        i++;
        break;
      }
      const alias = word();
      if (alias) {
        i += alias.length;
        skipSpace();
      }
      STRING.lastIndex = i;
      const m = STRING.exec(text);
      if (!m || m[0] === '""') {
        header.unreadable = position(at);
        return header;
      }
      let path: string;
      try {
        path = JSON.parse(m[0]) as string;
      } catch {
        header.unreadable = position(at);
        return header;
      }
      header.imports.push({ path, ...position(i) });
      i += m[0].length;
      if (!grouped) break;
    }
  }
}

/** Index just past an attribute `@name(...)`, balancing parentheses outside strings. */
function attributeEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      STRING.lastIndex = i;
      const m = STRING.exec(text);
      if (m) i += m[0].length - 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
    else if (c === '\n' && depth === 0) return i;
  }
  return text.length;
}

/**
 * Why an import is refused, or undefined when it is allowed. Only CUE's standard library is
 * importable (its paths have no dot in the first element), minus `tool/…` (commands, which have
 * no place in configuration). Any other path is a package of the repository — another project's
 * configuration — or a module from a registry, and both are refused.
 */
export function importProblem(path: string): string | undefined {
  const first = path.split('/')[0]!.split(':')[0]!.split('@')[0]!;
  if (first.includes('.') || path.startsWith('.')) {
    return `import "${path}" is not allowed: a forge configuration file may import only CUE's standard library, not another package of the repository (another project's configuration) or a module`;
  }
  if (first === 'tool') return `import "${path}" is not allowed: CUE's tool packages run commands and have no place in configuration`;
  if (!/^[a-z0-9/]+$/.test(path)) return `import "${path}" is not a CUE standard library package`;
  return undefined;
}
