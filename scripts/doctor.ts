#!/usr/bin/env node
/**
 * `npm run doctor -- [--fix] [--data-dir D] [--database-url U] [--json] [--orphan-min-age-ms N]`
 *
 * Checks every project through its own storage worker (the same code, and
 * the same project locks or database transactions, as the server, so it is
 * safe to run while servers run): the library opens and validates, every
 * record's bytes and size variants exist, and no binary lies in the upload
 * folders without a record. With `--fix` it rebuilds usage from the saved
 * content and removes orphaned binaries older than an hour.
 *
 * With `DATABASE_URL` (or `--database-url`) the libraries are the database's
 * and the data dir is the blob dir: the same checks, plus `.staged-*` files
 * (uploads whose server died before publishing them) and folders of the blob
 * dir that belong to no project (a project deletion killed between its commit
 * and its folder's removal), removed by `--fix` once older than the same age.
 *
 * Exit status: 0 nothing wrong (or all fixed), 1 problems remain, 2 the
 * doctor itself could not run.
 */
import { resolve } from 'node:path';
import { StorageError } from '../shared/errors.js';
import { StorageClient } from '../client/storage-client.js';
import { examineProject, type Orphan, type ProjectReport } from './doctor-project.js';
import { examineFolders, type StrayFolder } from './doctor-folders.js';

interface Options {
  fix: boolean;
  dataDir: string;
  /** set: the libraries live in this PostgreSQL database, and `dataDir` is the blob dir */
  databaseUrl?: string;
  json: boolean;
  orphanMinAgeMs: number;
}

const HOUR_MS = 60 * 60 * 1000;

function parseArgs(argv: string[]): Options {
  const opts: Options = { fix: false, dataDir: resolve(process.env.DATA_DIR ?? './data'), json: false, orphanMinAgeMs: HOUR_MS };
  if (process.env.DATABASE_URL?.trim()) opts.databaseUrl = process.env.DATABASE_URL.trim();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--fix') opts.fix = true;
    else if (arg === '--json') opts.json = true;
    else if (arg === '--data-dir' && argv[i + 1] !== undefined) opts.dataDir = resolve(argv[++i]!);
    else if (arg === '--database-url' && argv[i + 1] !== undefined) opts.databaseUrl = argv[++i]!;
    else if (arg === '--orphan-min-age-ms' && /^\d+$/.test(argv[i + 1] ?? '')) opts.orphanMinAgeMs = Number(argv[++i]);
    else throw new Error(`Unexpected argument ${JSON.stringify(arg)}; usage: doctor [--fix] [--data-dir D] [--database-url U] [--json] [--orphan-min-age-ms N]`);
  }
  return opts;
}

/** Problems that remain after this run (young orphans may be uploads in progress: not a problem). */
function problemsOf(r: ProjectReport, minAgeMs: number): number {
  return (r.error ? 1 : 0) + r.missing.length + oldLeft(r.orphans, minAgeMs) + oldLeft(r.staged, minAgeMs);
}

function oldLeft(files: readonly Orphan[], minAgeMs: number): number {
  return files.filter((o) => o.ageMs >= minAgeMs && !o.removed).length;
}

function strayProblems(strays: readonly StrayFolder[], minAgeMs: number): number {
  return strays.filter((s) => !s.removed && (s.removal || s.ageMs >= minAgeMs)).length;
}

function describe(r: ProjectReport, minAgeMs: number, library: string): string[] {
  const lines: string[] = [];
  if (r.error) {
    lines.push(`✗ ${r.project}: cannot open (${r.error.code}) ${r.error.message}`);
    return lines;
  }
  const problems = problemsOf(r, minAgeMs);
  lines.push(`${problems === 0 ? '✓' : '✗'} ${r.project}: ${r.files} file${r.files === 1 ? '' : 's'}, ${library} valid`);
  for (const m of r.missing) lines.push(`    missing binary  ${m}`);
  for (const o of r.orphans) {
    const age = `${Math.round(o.ageMs / 60000)} min old`;
    const what = o.removed ? 'removed orphan ' : o.ageMs < minAgeMs ? 'recent orphan  ' : 'orphan         ';
    lines.push(`    ${what} ${o.file} (${age}${o.ageMs < minAgeMs ? ', may be an upload in progress' : ''})`);
  }
  for (const o of r.staged) {
    const age = `${Math.round(o.ageMs / 60000)} min old`;
    const what = o.removed ? 'removed staged ' : o.ageMs < minAgeMs ? 'recent staged  ' : 'staged         ';
    lines.push(`    ${what} ${o.file} (${age}${o.ageMs < minAgeMs ? ', may be an upload in progress' : ', left by an upload that never finished'})`);
  }
  if (r.usageRebuilt) lines.push(`    usage rebuilt from ${r.usageRebuilt.sources} saved sources; ${r.usageRebuilt.filesInUse} files in use`);
  return lines;
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  // Warnings only from the worker: quarantines, lock takeovers, restores.
  const storage = await StorageClient.start({ dataDir: opts.dataDir, logLevel: 'warn', ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
  const reports: ProjectReport[] = [];
  let strays: StrayFolder[] = [];
  try {
    for (const project of await storage.listProjects()) {
      reports.push(await examineProject(storage, opts.dataDir, project.id, { fix: opts.fix, orphanMinAgeMs: opts.orphanMinAgeMs }));
    }
    // With the files, every folder is a project (the storage lists them); with a database, the blob dir may hold more.
    if (opts.databaseUrl) strays = await examineFolders(storage, opts.dataDir, { fix: opts.fix, orphanMinAgeMs: opts.orphanMinAgeMs });
  } finally {
    await storage.close();
  }
  const backend = opts.databaseUrl ? 'postgres' : 'files';
  const problems = reports.reduce((n, r) => n + problemsOf(r, opts.orphanMinAgeMs), 0) + strayProblems(strays, opts.orphanMinAgeMs);
  if (opts.json) {
    console.log(JSON.stringify({ dataDir: opts.dataDir, backend, fix: opts.fix, problems, projects: reports, strayFolders: strays }, null, 2));
  } else {
    console.log(`doctor: ${opts.dataDir}${opts.databaseUrl ? ' (libraries in PostgreSQL)' : ''}${opts.fix ? ' (--fix)' : ''}`);
    for (const r of reports) for (const line of describe(r, opts.orphanMinAgeMs, opts.databaseUrl ? 'library' : 'media.json')) console.log(line);
    for (const s of strays) {
      const what = s.removed ? 'removed folder without a project' : s.removal ? 'unfinished removal' : 'folder without a project';
      console.log(`✗ ${s.folder}: ${what} (${Math.round(s.ageMs / 60000)} min old)`);
    }
    const hint = problems > 0 && !opts.fix ? ' (run with --fix to rebuild usage and remove orphans older than an hour)' : '';
    console.log(`${reports.length} project${reports.length === 1 ? '' : 's'} checked, ${problems} problem${problems === 1 ? '' : 's'}${hint}`);
  }
  return problems === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A storage refusal (the database is down, a lock is held) is an answer for the operator, not a bug: no stack.
    if (err instanceof StorageError) console.error(`doctor failed: ${err.code}: ${err.message}`);
    else console.error(`doctor failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 2;
  },
);
