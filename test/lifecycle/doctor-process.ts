/** The maintenance command (scripts/doctor.ts) as a child process with `--json`, for the doctor tests. */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DOCTOR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'doctor.js');

export interface DoctorFile {
  file: string;
  ageMs: number;
  removed: boolean;
}

export interface DoctorRun {
  code: number | null;
  out: string;
  report: {
    problems: number;
    backend: string;
    projects: Array<{ project: string; files: number | null; missing: string[]; orphans: DoctorFile[]; staged: DoctorFile[]; usageRebuilt?: unknown; error?: { code: string } }>;
    strayFolders: Array<{ folder: string; removed: boolean; removal: boolean }>;
  };
}

export function runDoctor(dataDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<DoctorRun> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [DOCTOR, '--data-dir', dataDir, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('exit', (code) => {
      // The worker's own JSON log lines (warnings) may precede the report; the report is the last JSON document.
      const start = out.indexOf('{\n');
      if (start < 0) return rej(new Error(`no report (exit ${code}):\n${out}\n${err}`));
      res({ code, out, report: JSON.parse(out.slice(start)) as DoctorRun['report'] });
    });
  });
}
