import type { DiscoveryOutput } from './contract.ts';

/** The readable form of a discovery result: what `forge discover` prints by default. */
export function formatTable(out: DiscoveryOutput): string {
  const lines: string[] = [];
  const src = out.source;
  lines.push(
    `commit ${src.commit}${src.branch ? `  branch ${src.branch}` : ''}${src.tag ? `  tag ${src.tag}` : ''}  ` +
      `forgeVersion ${out.repository.forgeVersion}  tagging ${out.repository.tagging.strategy}`,
  );
  lines.push('');
  lines.push(
    table(
      ['PROJECT', 'PATH', 'PHASES', 'ARTIFACTS', 'RELEASE'],
      out.projects.map((p) => [
        p.name,
        p.path,
        Object.entries(p.phases)
          .map(([phase, steps]) => `${phase}(${steps.length})`)
          .join(' ') || '-',
        Object.entries(p.artifacts)
          .map(([name, a]) => `${name}:${a.type}`)
          .join(' ') || '-',
        p.releaseTriggered ? `yes (${p.releaseReason})` : 'no',
      ]),
    ),
  );
  lines.push('');
  const used = out.slots.filter((s) => s.group !== null);
  lines.push(
    table(
      ['SLOT', 'GROUP', 'PHASES', 'TASKS'],
      used.map((s) => [
        String(s.slot),
        String(s.group),
        out.phaseGroups.find((g) => g.group === s.group)?.phases.join(', ') ?? '',
        s.tasks.length === 0 ? '(skipped: no project takes part)' : s.tasks.map((t) => t.id).join(' '),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    `${out.projects.length} project(s), ${out.phaseGroups.length} phase group(s), ` +
      `${out.slots.reduce((n, s) => n + s.tasks.length, 0)} task(s); release: ${out.releaseProjects.join(', ') || 'none'}`,
  );
  for (const w of out.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
