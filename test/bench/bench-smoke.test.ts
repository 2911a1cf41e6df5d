/**
 * Smoke run of `npm run bench`: the quick mode of two small cells in a child
 * process, checking that every variant ran without errors and that the JSON
 * has the fields the report and docs rely on. Timings are never asserted
 * here: they belong to the full run on a quiet machine.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BenchResults } from '../../bench/results.js';
import { ALL_VARIANTS } from '../../bench/options.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.js');
const CHILD_DEADLINE_MS = 60_000;

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', runJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const Bench = suite('bench smoke');

Bench('quick run of two cells: every variant runs without errors and the JSON holds every field', async () => {
  const out = await makeTempDir('bench-smoke');
  try {
    const res = await runBench(['--quick', '--cells', '1x100,64x100', '--reads', '100', '--out', out]);
    assert.is(res.code, 0, `bench exited ${String(res.code)}:\n${res.stderr}`);
    const files = await readdir(out);
    assert.is(files.length, 1);
    const results = JSON.parse(await readFile(join(out, files[0] ?? ''), 'utf8')) as BenchResults;

    assert.is(results.meta.options.quick, true);
    assert.is(results.meta.node, process.version);
    const bytes100 = results.meta.documentBytes['100'];
    assert.type(bytes100, 'number');
    assert.ok(bytes100! > 0, `document bytes at 100 records: ${String(bytes100)}`);

    // every variant in every cell, once (one repetition), without a failed operation
    assert.is(results.runs.length, 2 * ALL_VARIANTS.length);
    for (const run of results.runs) {
      assert.is(run.loop.errors, 0, `${run.variant} C=${run.concurrency}: ${run.loop.firstError ?? ''}`);
      assert.ok(run.loop.ops > 0, `${run.variant} C=${run.concurrency} completed no operation`);
      for (const key of ['p50', 'p90', 'p99', 'mean', 'max', 'count'] as const) {
        assert.type(run.loop.latencyMs[key], 'number');
      }
    }
    const client = results.runs.filter((r) => r.variant === 'mediastore-client');
    assert.is(client.length, 2);
    for (const run of client) {
      assert.type(run.commitsPerOp, 'number');
      assert.ok((run.commits ?? 0) > 0 && (run.operations ?? 0) >= run.loop.ops);
    }

    assert.equal(results.floors.map((f) => f.concurrency), [1, 64]);
    for (const floor of results.floors) {
      assert.ok(floor.commits >= 3);
      assert.is(floor.bytes, results.meta.documentBytes['100']);
    }

    assert.is(results.summary.length, 2);
    for (const cell of results.summary) {
      assert.equal(Object.keys(cell.variants).sort(), [...ALL_VARIANTS].sort());
      for (const key of ['clientVsSeed', 'clientVsSqliteFull', 'clientVsIdeal', 'httpVsClient', 'httpVsClientSave'] as const) {
        assert.type(cell.ratios[key]?.median, 'number', `${key} missing at C=${cell.concurrency}`);
      }
      assert.type(cell.idealOpsPerSec?.median, 'number');
    }

    const readKeys = results.reads.map((r) => `${r.variant}: ${r.name}`);
    assert.ok(readKeys.some((k) => k.startsWith('mediastore-client: usage')), readKeys.join(', '));
    assert.ok(readKeys.some((k) => k.startsWith('mediastore-http: GET')), readKeys.join(', '));
    assert.equal(results.noops.map((n) => n.variant).sort(), ['mediastore-client', 'mediastore-http', 'mediastore-http-postgres', 'mediastore-postgres']);
    assert.ok(readKeys.some((k) => k.startsWith('mediastore-postgres: usage')), readKeys.join(', '));
    // at N=100 only the HTTP-vs-client target applies
    assert.equal(results.targets.map((t) => t.target), ['C=64 N=100: HTTP ≥ 50 % of storage client']);

    assert.match(res.stdout, /C=64 N=100/);
    assert.match(res.stdout, /client\/ideal/);
  } finally {
    await removeTempDir(out);
  }
});

Bench('a malformed option fails with the usage text and writes nothing', async () => {
  const out = await makeTempDir('bench-smoke-bad');
  try {
    const res = await runBench(['--quick', '--cells', '64by1000', '--out', out]);
    assert.is.not(res.code, 0);
    assert.match(res.stderr, /Expected `--cells` to be a list like 64x1000/);
    assert.match(res.stderr, /usage: npm run bench/);
    assert.equal(await readdir(out), []);
  } finally {
    await removeTempDir(out);
  }
});

Bench.run();
