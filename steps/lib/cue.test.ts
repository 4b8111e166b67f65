import { describe, expect, it } from 'vitest';
import { parseCueDiagnostics } from './cue.ts';

describe('parseCueDiagnostics', () => {
  it('splits field paths, messages and positions, quoted labels included', () => {
    const stderr = [
      'projects."1".x: field not allowed:',
      '    ./f/1/project.cue:3:1',
      'projects."2".name: invalid value "A b" (out of bound =~"^[a-z]"):',
      '    ./schema.cue:10:8',
      '    ./f/2/project.cue:2:7',
      'expected \'}\', found \'EOF\':',
      '    ./f/3/project.cue:4:1',
    ].join('\n');
    expect(parseCueDiagnostics(stderr)).toEqual([
      { path: 'projects."1".x', message: 'field not allowed', positions: [{ file: './f/1/project.cue', line: 3, column: 1 }] },
      {
        path: 'projects."2".name',
        message: 'invalid value "A b" (out of bound =~"^[a-z]")',
        positions: [
          { file: './schema.cue', line: 10, column: 8 },
          { file: './f/2/project.cue', line: 2, column: 7 },
        ],
      },
      { path: '', message: "expected '}', found 'EOF'", positions: [{ file: './f/3/project.cue', line: 4, column: 1 }] },
    ]);
  });
});
