/**
 * `forge`: the one command-line entry of the step tools. Each sub-command lives in
 * steps/<tool>/cli.ts and is loaded only when asked for, so a step pod starts quickly.
 */
const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  discover: { summary: 'find and validate projects, phase groups and release triggers', load: () => import('./discover/cli.ts') },
};

export async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    const list = Object.entries(commands)
      .map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}`)
      .join('\n');
    const text = `Usage: forge <command> [options]\n\nCommands:\n${list}\n\nRun \`forge <command> --help\` for a command's options.\n`;
    if (name && name !== '--help' && name !== '-h') {
      process.stderr.write(`forge: unknown command "${name}"\n\n${text}`);
      process.exitCode = 2;
    } else {
      process.stdout.write(text);
    }
    return;
  }
  await (await command.load()).main(rest);
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.FORGE_CLI_MAIN === '1') {
  await run(process.argv.slice(2));
}
