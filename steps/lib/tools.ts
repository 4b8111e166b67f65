import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import manifest from '../../images/toolchain/tools.json' with { type: 'json' };
import { envName } from './contract.ts';
import { ForgeError } from './errors.ts';

type GoTool = keyof typeof manifest.go;
type AptTool = keyof typeof manifest.apt;
export type ToolName = GoTool | AptTool;

export function toolsHome(): string {
  return process.env.FORGE_TOOLS_HOME ?? join(process.env.HOME ?? homedir(), '.cache', 'forge-workflows');
}

export function pinnedVersion(name: ToolName): string | undefined {
  return name in manifest.go ? manifest.go[name as GoTool].version : undefined;
}

/** Whether `path` is a file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `FORGE_TOOL_<NAME>` (an explicit path), then PATH: for tools the project does not pin (trivy). */
export function findExecutable(name: string): string | undefined {
  const candidates = [process.env[envName(`tool-${name}`)], ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name))];
  return candidates.find((p): p is string => typeof p === 'string' && p.length > 0 && isExecutable(p));
}

const resolved = new Map<ToolName, string>();

/**
 * Finds a pinned tool: `FORGE_TOOL_<NAME>` (an explicit path), then the project's installer
 * cache, then the Debian path, then PATH (which is where step images put them). A missing tool
 * is an error naming the command that installs it — never a silent skip.
 */
export function toolPath(name: ToolName): string {
  const hit = resolved.get(name);
  if (hit) return hit;
  const variable = envName(`tool-${name}`);
  const candidates = [
    process.env[variable],
    join(toolsHome(), 'bin', name),
    name in manifest.apt ? manifest.apt[name as AptTool].binary : undefined,
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name)),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const found = candidates.find(isExecutable);
  if (!found) {
    const version = pinnedVersion(name);
    throw new ForgeError(
      'TOOL_MISSING',
      `${name}${version ? ` ${version}` : ''} is not installed: run \`npm run tools:install\` ` +
        `(or \`node images/toolchain/install.mjs --only ${name}\`), or set ${variable} to its path`,
    );
  }
  resolved.set(name, found);
  return found;
}
