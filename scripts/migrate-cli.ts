/**
 * The `migrate` and `export` subcommands of the `mediastore` bin: argument
 * parsing, the report on stdout (text, or `--json`), and the exit code.
 *
 * Exit codes: 0 every project migrated, updated or unchanged; 1 some project
 * skipped (the report says why); 2 bad arguments, or the database cannot be
 * used (nothing was decided).
 */
import { StorageError } from '../shared/errors.js';
import { exportToFiles, formatReport, migrateToPostgres, type MigrationReport } from '../disk-format.js';

export const USAGE = `Usage:
  mediastore                                   start the server (configured by environment, docs/http-api.md)
  mediastore migrate --from <dataDir> --to <postgres-url> [--dry-run] [--json]
      import every project of a data directory (media.json with every record field and usedIn,
      pages, global widgets, theme, projects.json entries) into PostgreSQL; a second run changes
      nothing; a corrupt library is reported and skipped
  mediastore export --from <postgres-url> --to <dataDir> [--dry-run] [--json]
      write every project in PostgreSQL back to the editor's files (binaries are not moved);
      an existing project folder is never overwritten
  mediastore --help

Exit codes: 0 done, 1 some project skipped (see the report), 2 bad arguments or database unusable.`;

interface Parsed {
  command: 'migrate' | 'export';
  from: string;
  to: string;
  dryRun: boolean;
  json: boolean;
}

class UsageError extends Error {}

function parse(args: readonly string[]): Parsed | 'help' {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') return 'help';
  if (command !== 'migrate' && command !== 'export') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const values: Record<string, string> = {};
  let dryRun = false;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--json') json = true;
    else if (arg === '--from' || arg === '--to') {
      const value = rest[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      values[arg.slice(2)] = value;
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  const { from, to } = values;
  if (from === undefined || to === undefined) throw new UsageError(`${command} needs --from and --to`);
  const url = command === 'migrate' ? to : from;
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`${command === 'migrate' ? '--to' : '--from'} must be a postgres:// URL`);
  return { command, from, to, dryRun, json };
}

/** Runs one subcommand (`args` without the bin's own name); resolves to the exit code. */
export async function runMigrationCommand(args: readonly string[], out: (text: string) => void = (t) => process.stdout.write(`${t}\n`), err: (text: string) => void = (t) => process.stderr.write(`${t}\n`)): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parse(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`mediastore: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    out(USAGE);
    return 0;
  }
  let report: MigrationReport;
  try {
    report =
      parsed.command === 'migrate'
        ? await migrateToPostgres({ from: parsed.from, databaseUrl: parsed.to, dryRun: parsed.dryRun })
        : await exportToFiles({ databaseUrl: parsed.from, to: parsed.to, dryRun: parsed.dryRun });
  } catch (e) {
    const error = StorageError.from(e);
    err(`mediastore ${parsed.command}: ${error.code}: ${error.message}`);
    return 2;
  }
  out(parsed.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.projects.some((p) => p.outcome === 'skipped') ? 1 : 0;
}
