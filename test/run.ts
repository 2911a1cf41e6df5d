/**
 * Runs every `*.test.js` under dist/test in its own Node process, one after
 * another, so a test that leaks a worker, port or child cannot hang or poison
 * the others; a file that runs past its deadline is killed and counted failed.
 * Prints uvu's output per file and one closing line `N passed, N failed`.
 *
 * A file that uses `.only` or `.skip` fails: a focused or skipped test
 * would otherwise turn the suite green while proving less. Each file runs in
 * its own process group, so a deadline kill also ends the processes it
 * started (servers, storage children), which would otherwise outlive it.
 *
 *   node dist/test/run.js [filter…]    (filters: substrings of the path below dist/test; any may match)
 *   TEST_ROOT=dir                      run the tests under another directory (the runner's own test)
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.env.TEST_ROOT ?? dirname(fileURLToPath(import.meta.url));
const FILE_DEADLINE_MS = Number(process.env.TEST_FILE_DEADLINE_MS ?? 240_000);

async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await findTests(full)));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  ok: boolean;
  ms: number;
  /** why the file failed although its tests passed */
  refused?: string;
}

/** `x.only(` / `x.skip(` in the compiled file: a second guard beside uvu's own "Skipped:" count. */
const FOCUS_OR_SKIP = /\.(only|skip)\s*\(/;

async function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const source = await readFile(file, 'utf8');
  const focus = FOCUS_OR_SKIP.exec(source);
  if (focus) {
    const refused = `uses .${focus[1]}(): every test must run`;
    process.stdout.write(`!! ${relative(root, file)} ${refused}\n`);
    return { file, passed: 0, failed: 1, ok: false, ms: Date.now() - started, refused };
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      // Its own process group: the deadline kill below reaches its children too.
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    const timer = setTimeout(() => {
      process.stdout.write(`\n!! ${relative(root, file)} ran past ${FILE_DEADLINE_MS} ms: killed\n`);
      killGroup(child.pid);
    }, FILE_DEADLINE_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // uvu prints "Total: N", "Passed: N" (possibly with ANSI colours).
      const plain = out.replace(/\u001b\[[0-9;]*m/g, '');
      const total = sumAll(plain, /Total:\s+(\d+)/g);
      const passed = sumAll(plain, /Passed:\s+(\d+)/g);
      // uvu counts a .skip, and every other test of a suite that has a .only, as skipped.
      const skipped = sumAll(plain, /Skipped:\s+(\d+)/g);
      const refused = skipped > 0 ? `skipped ${skipped} test(s): every test must run` : undefined;
      if (refused) process.stdout.write(`!! ${relative(root, file)} ${refused}\n`);
      const ok = code === 0 && total > 0 && passed === total && !refused;
      resolve({
        file,
        passed,
        failed: ok ? 0 : Math.max(1, total - passed),
        ok,
        ms: Date.now() - started,
        ...(refused ? { refused } : {}),
      });
    });
  });
}

/** SIGKILL to the whole process group a test file leads (the file and everything it started). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function sumAll(text: string, re: RegExp): number {
  let n = 0;
  for (const m of text.matchAll(re)) n += Number(m[1]);
  return n;
}

// Matched against the path below the test root, so the checkout's own path cannot match by accident.
const filters = process.argv.slice(2);
const filter = filters.join(' ');
const files = (await findTests(root)).filter((f) => filters.length === 0 || filters.some((part) => relative(root, f).includes(part)));
if (files.length === 0) {
  console.error(`no test files found${filter ? ` matching ${filter}` : ''}`);
  process.exit(1);
}
const results: FileResult[] = [];
for (const file of files) {
  process.stdout.write(`\n# ${relative(root, file)}\n`);
  results.push(await runFile(file));
}
console.log('\n# per file');
for (const r of results) {
  console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${relative(root, r.file)}  ${r.passed} passed, ${r.failed} failed  ${(r.ms / 1000).toFixed(1)} s${r.refused ? `  (${r.refused})` : ''}`);
}
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && results.every((r) => r.ok) ? 0 : 1);
