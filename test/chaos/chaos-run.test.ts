/**
 * The short chaos run inside `npm test`: the harness (scripts/chaos.ts) with
 * 20 restarts of the real server under editor traffic. It fails on any
 * violation the harness finds, and when the run did not happen as asked.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HARNESS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'chaos.js');
const RESTARTS = 20;

const ChaosRun = suite('chaos run');

ChaosRun(`${RESTARTS} restarts under editor traffic: nothing acknowledged is lost, no violation`, async () => {
  const child = spawn(process.execPath, ['--enable-source-maps', HARNESS, '--restarts', String(RESTARTS), '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // SIGTERM first: the harness then kills its server processes before it exits.
  const timer = setTimeout(() => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }, 110_000);
  try {
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    const summary = /chaos summary: restarts (\d+) \(.*\), requests (\d+), acknowledged (\d+), .*checks (\d+), violations (\d+)/.exec(out);
    assert.ok(summary, `no summary line:\n${out}\n${err}`);
    const [, restarts, , acknowledged, checks, violations] = summary.map(Number);
    console.log(`  ${summary[0]}`);
    assert.is(violations, 0, `violations:\n${err}`);
    assert.is(code, 0, `harness exit ${code}\n${out}\n${err}`);
    assert.is(restarts, RESTARTS);
    assert.ok(acknowledged! > 100, `only ${acknowledged} acknowledged requests`);
    assert.ok(checks! > acknowledged!, 'fewer checks than acknowledged requests');
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

ChaosRun.run();
