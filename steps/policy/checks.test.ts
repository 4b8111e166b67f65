import { describe, expect, it } from 'vitest';
import { checkUser, isNonRootUid, MAX_UID } from './checks.ts';

describe('non-root: a canonical UID > 0, or a name the image maps to one', () => {
  it.each(['1', '1000', '65532', String(MAX_UID), '1000:1000', '1000:0', '1000:staff'])('USER %j passes', (user) => {
    const r = checkUser(user);
    expect(r.passed, r.actual).toBe(true);
  });

  it.each([
    ['', 'no USER set (runs as root)'],
    ['0', 'USER 0 (UID 0 is root)'],
    ['00', 'USER 00 (UID 00 is root)'],
    ['0:1000', 'USER 0:1000 (UID 0 is root)'],
    ['+0', 'USER "+0" is neither a decimal UID nor a user name'],
    ['+1000', 'USER "+1000" is neither a decimal UID nor a user name'],
    ['-1', 'USER "-1" is neither a decimal UID nor a user name'],
    ['0x0', 'USER "0x0" is neither a decimal UID nor a user name'],
    ['0x3e8', 'USER "0x3e8" is neither a decimal UID nor a user name'],
    [' 1000', 'USER " 1000" is neither a decimal UID nor a user name'],
    ['1000 ', 'USER "1000 " is neither a decimal UID nor a user name'],
    ['01000', 'USER 01000 (UID 01000 is not a canonical UID in range)'],
    ['2147483648', 'USER 2147483648 (UID 2147483648 is not a canonical UID in range)'],
    ['4294967296', 'USER 4294967296 (UID 4294967296 is not a canonical UID in range)'],
    ['1e3', 'USER "1e3" is neither a decimal UID nor a user name'],
    ['1000:1000:1000', 'USER "1000:1000:1000" is not user[:group]'],
    ['1000:+0', 'USER "1000:+0" has group "+0", not a decimal GID or a group name'],
    ['root', "USER root (the name was not looked up in the image's /etc/passwd)"],
    ['app', "USER app (the name was not looked up in the image's /etc/passwd)"],
  ])('USER %j fails: %s', (user, actual) => {
    const r = checkUser(user, 'linux/amd64');
    expect(r).toMatchObject({ check: 'non-root', passed: false, actual, platform: 'linux/amd64' });
    expect(r.required).toMatch(/decimal UID in 1…2147483647/);
  });

  it("resolves names through the image's own /etc/passwd", () => {
    expect(checkUser('app', undefined, { uid: '1000' })).toMatchObject({ passed: true, actual: "USER app (UID 1000 in the image's /etc/passwd)" });
    expect(checkUser('app:app', undefined, { uid: '1000' }).passed).toBe(true);
    expect(checkUser('root', undefined, { uid: '0' })).toMatchObject({ passed: false, actual: `USER root (UID "0" in the image's /etc/passwd)` });
    expect(checkUser('app', undefined, { uid: '+0' })).toMatchObject({ passed: false, actual: `USER app (UID "+0" in the image's /etc/passwd)` });
    expect(checkUser('app', undefined, { uid: '' }).passed).toBe(false);
    expect(checkUser('app', undefined, { missing: 'no /etc/passwd in the image' })).toMatchObject({ passed: false, actual: 'USER app (no /etc/passwd in the image)' });
    expect(checkUser('app', undefined, { missing: "not in the image's /etc/passwd" }).passed).toBe(false);
  });

  it('isNonRootUid is exact at both ends', () => {
    expect([isNonRootUid('0'), isNonRootUid('1'), isNonRootUid(String(MAX_UID)), isNonRootUid(String(MAX_UID + 1))]).toEqual([false, true, true, false]);
  });
});
