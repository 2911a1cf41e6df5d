/**
 * What `mediastore migrate` and `export` report: one line per project. A dry
 * run reports what the real run would do (same outcomes, nothing written).
 */
export type ProjectOutcome =
  /** new on the target (printed "exported" by export) */
  | 'migrated'
  /** on the target already, replaced by the source's newer version */
  | 'updated'
  /** the target already holds exactly this version: nothing written */
  | 'unchanged'
  /** not carried over; `reason` says why (the target is left as it was) */
  | 'skipped';

export interface ProjectReport {
  id: string;
  folder: string;
  outcome: ProjectOutcome;
  reason?: string;
  records: number;
  pages: number;
  globals: number;
  theme: number;
  /** what was carried but is worth knowing (a content file that is not JSON, …) */
  notes: string[];
}

export interface MigrationReport {
  command: 'migrate' | 'export';
  dryRun: boolean;
  projects: ProjectReport[];
}

export function emptyCounts(): Pick<ProjectReport, 'records' | 'pages' | 'globals' | 'theme'> {
  return { records: 0, pages: 0, globals: 0, theme: 0 };
}

/** Plain text, one line a project, then totals. */
export function formatReport(report: MigrationReport): string {
  const lines: string[] = [];
  const verb = report.dryRun ? ' (dry run: nothing written)' : '';
  lines.push(`mediastore ${report.command}${verb}`);
  for (const p of report.projects) {
    // A project skipped before it could be read has nothing to count.
    const unread = p.outcome === 'skipped' && p.records + p.pages + p.globals + p.theme === 0;
    const what = unread ? '' : `${p.records} records, ${p.pages} pages, ${p.globals} globals, ${p.theme} theme`;
    const label = report.command === 'export' && p.outcome === 'migrated' ? 'exported' : p.outcome;
    lines.push(`  ${label.padEnd(9)} ${p.id} (${p.folder}): ${[what, p.reason].filter(Boolean).join(' — ')}`);
    for (const note of p.notes) lines.push(`            note: ${note}`);
  }
  const count = (o: ProjectOutcome) => report.projects.filter((p) => p.outcome === o).length;
  lines.push(`  ${report.projects.length} projects: ${count('migrated')} migrated, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('skipped')} skipped`);
  return lines.join('\n');
}
