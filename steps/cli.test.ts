import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const forge = fileURLToPath(new URL('../bin/forge.mjs', import.meta.url));
const commands = ['discover', 'promote', 'resolve', 'verify', 'scan', 'policy', 'copy', 'attest', 'record', 'submit'];

describe('forge', () => {
  it('lists every command', async () => {
    const { stdout } = await execa(forge, []);
    for (const c of commands) expect(stdout).toMatch(new RegExp(`^  ${c}\\s`, 'm'));
  });

  it.each(commands)('forge %s --help prints its usage without needing its options', async (command) => {
    const r = await execa(forge, [command, '--help'], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: forge ${command}`));
  });

  it('refuses an unknown command with exit 2', async () => {
    const r = await execa(forge, ['nope'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown command "nope"/);
  });
});
