import { describe, expect, it } from 'vitest';
import { ForgeError } from './errors.ts';
import { parseImageReference, parsePinnedReference, parseReference, parseRegistryPrefix, pathBelow } from './reference.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('image references (distribution grammar)', () => {
  it.each([
    ['127.0.0.1:5000/team/app:1.0', { registry: '127.0.0.1:5000', path: ['team', 'app'], repository: '127.0.0.1:5000/team/app', tag: '1.0' }],
    [`registry.example.com/a/b.c/d_e/f__g/h--i@${D}`, { registry: 'registry.example.com', path: ['a', 'b.c', 'd_e', 'f__g', 'h--i'], repository: 'registry.example.com/a/b.c/d_e/f__g/h--i', digest: D }],
    [`localhost/app:v1@${D}`, { registry: 'localhost', path: ['app'], repository: 'localhost/app', tag: 'v1', digest: D }],
    ['[::1]:5000/app', { registry: '[::1]:5000', path: ['app'], repository: '[::1]:5000/app' }],
    ['Registry.Example.com:443/app:latest', { registry: 'Registry.Example.com:443', path: ['app'], repository: 'Registry.Example.com:443/app', tag: 'latest' }],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected);
  });

  it.each([
    ['127.0.0.1:5000/team/../other/app:1', /path component 2 "\.\." is a relative path segment/],
    ['127.0.0.1:5000/team/./app:1', /path component 2 "\." is a relative path segment/],
    ['127.0.0.1:5000/team//app:1', /path component 2 "" is empty/],
    ['127.0.0.1:5000/team/app/', /path component 3 "" is empty/],
    ['127.0.0.1:5000/Team/app', /path component 1 "Team" is not lower-case/],
    ['127.0.0.1:5000/team/-app', /path component 2 "-app"/],
    ['127.0.0.1:5000/team/app.', /path component 2 "app\."/],
    ['127.0.0.1:5000/te%2fam/app', /path component 1/],
    ['127.0.0.1:5000/team/app:-1', /tag "-1"/],
    [`127.0.0.1:5000/team/app:${'x'.repeat(129)}`, /tag/],
    ['127.0.0.1:5000/team/app@sha256:zz', /digest "sha256:zz" is not sha256:<64 lowercase hex characters>/],
    [`127.0.0.1:5000/team/app@sha256:${'A'.repeat(64)}`, /is not sha256:<64 lowercase hex/],
    ['127.0.0.1:5000/team/app@md5', /digest "md5" is not algorithm:hex/],
    ['team/app:1', /"team" is not a registry host/],
    ['app', /give <registry>\/<repository>/],
    ['bad_host.com/app', /registry "bad_host.com" is not host\[:port\]/],
    ['127.0.0.1:99999/app', /port 99999 is out of range/],
    ['127.0.0.1:5000/app\n:1', /not a valid image reference/],
    [`127.0.0.1:5000/${'a/'.repeat(200)}app`, /longer than 255 characters/],
  ])('refuses %j', (text, message) => {
    expect(() => parseImageReference(text)).toThrow(message);
  });

  it('returns only the parts the reference has, and refuses with INVALID_ARGS', () => {
    expect(parseReference('127.0.0.1:5000/team/app')).toStrictEqual({ repository: '127.0.0.1:5000/team/app' });
    expect(parseReference('127.0.0.1:5000/team/app:1')).toStrictEqual({ repository: '127.0.0.1:5000/team/app', tag: '1' });
    expect(parseReference(`127.0.0.1:5000/team/app@${D}`)).toStrictEqual({ repository: '127.0.0.1:5000/team/app', digest: D });
    expect(parseImageReference('localhost/app')).toStrictEqual({ registry: 'localhost', path: ['app'], repository: 'localhost/app' });
    for (const bad of ['app', 'a/app', '127.0.0.1:5000/../x']) {
      try {
        parseImageReference(bad);
        expect.unreachable(bad);
      } catch (e) {
        expect((e as ForgeError).code, bad).toBe('INVALID_ARGS');
      }
    }
    expect(() => parseImageReference('a/app')).toThrow(/"a" is not a registry host/);
  });

  it('ports from 1 to 65535; host names of DNS labels', () => {
    expect(parseImageReference('127.0.0.1:1/app').registry).toBe('127.0.0.1:1');
    expect(parseImageReference('127.0.0.1:65535/app').registry).toBe('127.0.0.1:65535');
    expect(() => parseImageReference('127.0.0.1:0/app')).toThrow(/port 0 is out of range/);
    expect(() => parseImageReference('127.0.0.1:65536/app')).toThrow(/port 65536 is out of range/);
    for (const bad of [':5000/app', 'host:1:2/app', 'a..b:5000/app', '-a.com/app', 'a_b.com/app', 'x.com:/app', '[::1/app']) {
      expect(() => parseImageReference(bad), bad).toThrow(/is not a valid image reference/);
    }
  });

  it('lengths: a reference up to 1024 characters, a repository name up to 255', () => {
    const algo = (n: number) => `sha512:${'a'.repeat(n)}`;
    const base = '127.0.0.1:5000/app@';
    expect(parseImageReference(base + algo(1024 - base.length - 7)).digest).toHaveLength(1024 - base.length);
    expect(() => parseImageReference(base + algo(1025 - base.length - 7))).toThrow(/longer than 1024 characters/);
    const name = (n: number) => `127.0.0.1:5000/${'a'.repeat(n - '127.0.0.1:5000/'.length)}`;
    expect(parseImageReference(name(255)).repository).toHaveLength(255);
    expect(() => parseImageReference(name(256))).toThrow(/longer than 255 characters/);
  });

  it('pinned references need a sha256 digest', () => {
    expect(parsePinnedReference(`127.0.0.1:5000/app:1@${D}`)).toEqual({ repository: '127.0.0.1:5000/app', digest: D });
    expect(() => parsePinnedReference('127.0.0.1:5000/app:1')).toThrow(/is not pinned/);
    expect(() => parsePinnedReference(`127.0.0.1:5000/app@sha512:${'a'.repeat(128)}`)).toThrow(/has digest "sha512:a+": expected sha256:<64 lowercase hex characters>/);
    expect(() => parsePinnedReference('127.0.0.1:5000/app:1')).toThrow(expect.objectContaining({ code: 'INVALID_ARGS' }));
    expect(parsePinnedReference(` 127.0.0.1:5000/app@${D} `)).toEqual({ repository: '127.0.0.1:5000/app', digest: D });
  });
});

describe('registry boundaries, component by component', () => {
  const prefix = parseRegistryPrefix('127.0.0.1:5000/team/');
  const below = (text: string) => pathBelow(parseImageReference(text), prefix);

  it('finds the path below the prefix', () => {
    expect(below('127.0.0.1:5000/team/app:1')).toEqual(['app']);
    expect(below('127.0.0.1:5000/team/a/b')).toEqual(['a', 'b']);
  });

  it.each([
    '127.0.0.1:5000/team-evil/app:1', // a look-alike string prefix
    '127.0.0.1:5000/teamx/app',
    '127.0.0.1:5000/team', // the prefix itself is not an image below it
    '127.0.0.1:50000/team/app', // another port
    '127.0.0.2:5000/team/app', // another host
    '127.0.0.1:5000/other/team/app',
  ])('%s is outside 127.0.0.1:5000/team', (text) => {
    expect(below(text)).toBeUndefined();
  });

  it('prefixes lose any trailing slashes; a bare registry has no path', () => {
    expect(parseRegistryPrefix('127.0.0.1:5000/team//')).toEqual({ registry: '127.0.0.1:5000', path: ['team'] });
    expect(parseRegistryPrefix('127.0.0.1:5000/')).toEqual({ registry: '127.0.0.1:5000', path: [] });
    expect(parseRegistryPrefix('127.0.0.1:5000/a/b')).toEqual({ registry: '127.0.0.1:5000', path: ['a', 'b'] });
  });

  it('a bare registry prefix covers every repository of that registry; hosts compare case-insensitively', () => {
    const whole = parseRegistryPrefix('Registry.Example.com');
    expect(pathBelow(parseImageReference('registry.example.com/app'), whole)).toEqual(['app']);
    expect(() => parseRegistryPrefix('reg istry')).toThrow(/not host\[:port\]/);
  });
});
