import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * A bare repository with a long history, written in one `git fast-import` stream: the first
 * commit adds `files` files, each later commit changes one of them. Returns the commit SHAs.
 */
export async function generatedHistory(dir: string, opts: { commits: number; files: number; /** Added by the first commit too (a forge configuration, say). */ extra?: Record<string, string> }): Promise<{ bare: string; commits: string[] }> {
  const bare = join(dir, 'history.git');
  await execa('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  const child = spawn('git', ['-C', bare, 'fast-import', '--quiet'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const write = (s: string) => (child.stdin.write(s) ? Promise.resolve() : new Promise<void>((r) => child.stdin.once('drain', () => r())));
  const blob = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let c = 0; c < opts.commits; c++) {
    const when = 946684800 + c * 60;
    const message = `change ${c}`;
    let body = `commit refs/heads/main\nmark :${c + 1}\ncommitter forge bench <bench@forge.invalid> ${when} +0000\ndata ${message.length}\n${message}\n`;
    if (c > 0) body += `from :${c}\n`;
    if (c === 0) {
      for (let f = 0; f < opts.files; f++) body += `M 100644 inline src/dir-${f % 50}/file-${f}.txt\n${blob(`file ${f}\n`.repeat(20))}`;
      for (const [path, content] of Object.entries(opts.extra ?? {})) body += `M 100644 inline ${path}\n${blob(content)}`;
    } else {
      const f = c % opts.files;
      body += `M 100644 inline src/dir-${f % 50}/file-${f}.txt\n${blob(`file ${f} version ${c}\n`.repeat(20))}`;
    }
    await write(body);
  }
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`git fast-import failed: ${stderr}`);
  const list = await execa('git', ['-C', bare, 'rev-list', '--reverse', 'main']);
  return { bare, commits: list.stdout.split('\n') };
}
