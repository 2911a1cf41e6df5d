/**
 * Adopting the package for real: `npm pack` this repo, install the tarball
 * into a scratch host project (a temp dir, `npm install <tarball>` from the
 * npm cache), compile a host program there with this repo's TypeScript in
 * strict mode against the installed declarations, and run it as a child
 * process on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/package → the repository root */
export const REPO_ROOT = resolve(here, '..', '..', '..');
const TSC = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    // The npm of `npm test` passes its own settings down in npm_config_*; the scratch install must not inherit them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], cwd: string): Promise<Run> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Packs the repository (its prepack builds lib/) into `dir`; returns the tarball's path. */
export async function packInto(dir: string): Promise<string> {
  await mustRun('npm', ['pack', '--pack-destination', dir, '--silent'], REPO_ROOT);
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack made no tarball');
  return join(dir, tarball);
}

/** A scratch ESM project in `dir` with the tarball and `packages` installed from the npm cache. */
export async function installHost(dir: string, tarball: string, packages: string[]): Promise<void> {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-host', version: '1.0.0', private: true, type: 'module' }));
  await mustRun('npm', ['install', tarball, ...packages, '--prefer-offline', '--no-audit', '--no-fund'], dir);
}

/**
 * Copies test/package/hosts/<name>.ts into the host and compiles it, strict.
 * `skipLibCheck: false` shows errors inside declaration files too: those of
 * mediastore's own declarations (or of the host file) fail; the rest belong to
 * third-party typings (e.g. @types/koa against a newer transitive package) and
 * are returned for the test to ignore.
 */
export async function compileHost(dir: string, name: string): Promise<{ ourErrors: string[] }> {
  await copyFile(join(REPO_ROOT, 'test', 'package', 'hosts', `${name}.ts`), join(dir, `${name}.ts`));
  const tsconfig = {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      esModuleInterop: true,
      skipLibCheck: false,
      types: ['node'],
      outDir: '.',
    },
    files: [`${name}.ts`],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  const result = await run(TSC, ['-p', 'tsconfig.json', '--noEmitOnError', 'false'], dir);
  const errors = result.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
  const ourErrors = errors.filter((line) => line.includes('node_modules/mediastore/') || line.startsWith(`${name}.ts`));
  if (result.code !== 0 && errors.length === 0) throw new Error(`tsc failed:\n${result.stdout}\n${result.stderr}`);
  return { ourErrors };
}

export interface RunningHost {
  child: ChildProcess;
  base: string;
  /** what the host printed on stdout, one JSON value per line */
  lines: unknown[];
  stderr: () => string;
}

/** Starts `node <name>.js <dataDir>` in the host and waits for its `{ port }` line. */
export async function startHost(dir: string, name: string, dataDir: string): Promise<RunningHost> {
  const child = spawn(process.execPath, [`${name}.js`, dataDir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: unknown[] = [];
  const reader = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.once('exit', (code) => reject(new Error(`host exited (${code}) before listening:\n${stderr}`)));
    reader.on('line', (line) => {
      const value = JSON.parse(line) as { port?: number };
      lines.push(value);
      if (typeof value.port === 'number') resolvePort(value.port);
    });
  });
  return { child, base: `http://127.0.0.1:${port}`, lines, stderr: () => stderr };
}

/** SIGTERM (the host's own handler closes mediastore); resolves with the exit code. */
export function stopHost(host: RunningHost): Promise<number | null> {
  return new Promise((resolveStop) => {
    if (host.child.exitCode !== null) return resolveStop(host.child.exitCode);
    host.child.once('exit', (code) => resolveStop(code));
    host.child.kill('SIGTERM');
  });
}
