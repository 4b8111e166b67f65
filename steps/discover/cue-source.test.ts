import { describe, expect, it } from 'vitest';
import { importProblem, scanCueHeader } from './cue-source.ts';

describe('scanCueHeader', () => {
  it('reads the package clause and every import form, with positions', () => {
    const h = scanCueHeader(`// leading comment
package project // trailing

import "strings"
import l "list"
import (
	// inside the group
	a "example.com/a:x", "example.com/b"
	c "example.com/\\u0063"
)

name: "x"
import: "a field, not a declaration"
`);
    expect(h.package).toBe('project');
    expect(h.packageLine).toBe(2);
    expect(h.imports).toEqual([
      { path: 'strings', line: 4, column: 8 },
      { path: 'list', line: 5, column: 10 },
      { path: 'example.com/a:x', line: 8, column: 4 },
      { path: 'example.com/b', line: 8, column: 23 },
      { path: 'example.com/c', line: 9, column: 4 },
    ]);
    expect(h.fileAttributes).toEqual([]);
    expect(h.unreadable).toBeUndefined();
  });

  it('finds file attributes before the package clause, and a missing clause', () => {
    const h = scanCueHeader('@if(prod)\n@extern(embed)\npackage project\n');
    expect(h.fileAttributes.map((a) => [a.text, a.line])).toEqual([
      ['@if(prod)', 1],
      ['@extern(embed)', 2],
    ]);
    const none = scanCueHeader('// nothing\nname: "x"\n');
    expect(none.package).toBeUndefined();
    expect(none.packageLine).toBe(2);
  });

  it('sees imports after declaration attributes, which cue accepts there', () => {
    expect(scanCueHeader('package p\n@x()\nimport o "example.com/o"\n@y("(")\nimport "example.com/p"\n').imports.map((i) => i.path)).toEqual([
      'example.com/o',
      'example.com/p',
    ]);
  });

  it('refuses to guess at an import it cannot read', () => {
    expect(scanCueHeader('package p\nimport #"example.com/x"#\n').unreadable).toEqual({ line: 2, column: 1 });
    expect(scanCueHeader('package p\nimport (\n\t"""\n\texample.com/x\n\t"""\n)\n').unreadable).toEqual({ line: 2, column: 1 });
  });
});

describe('importProblem', () => {
  it('allows the standard library only', () => {
    expect(importProblem('strings')).toBeUndefined();
    expect(importProblem('encoding/json')).toBeUndefined();
    expect(importProblem('forge.local/discover/f/2:project')).toMatch(/not allowed: .* only CUE's standard library/);
    expect(importProblem('github.com/x/y@v0')).toMatch(/not allowed/);
    expect(importProblem('tool/exec')).toMatch(/tool packages/);
    expect(importProblem('./sibling')).toMatch(/not allowed/);
    expect(importProblem('Strings')).toMatch(/not a CUE standard library package/);
  });
});
