/**
 * Crash-state exploration of the commit protocol (ALICE / CrashMonkey style):
 * each scenario's file operations are recorded through the seam, every disk
 * state a crash could leave (crash-model.ts) is built and checked on its
 * bytes, then opened with a fresh storage service and checked again.
 *
 * CRASH_DEPTH=deep explores more ways for unsynced data to be cut (slower).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { explore, type Exploration } from './explorer.js';
import { SCENARIOS } from './scenarios.js';
import { recordTrace } from './trace.js';
import { removeTempDir } from '../helpers/temp-dir.js';

const deep = process.env.CRASH_DEPTH === 'deep';
const test = suite(`commit crash states${deep ? ' (deep)' : ''}`);
const results: Exploration[] = [];

for (const scenario of SCENARIOS) {
  test(scenario.name, async () => {
    const trace = await recordTrace(scenario.name);
    try {
      assert.ok(trace.acks.length > 0, 'the scenario acknowledged its operations');
      const result = await explore(trace, { deep });
      results.push(result);
      console.log(
        `  ${scenario.name}: ${result.ops} ops, ${result.states} crash states (${result.distinctImages} distinct, ${result.recoveries} opened), ${result.ms} ms`,
      );
      const found = result.violations.map((v) => `- ${v.problem} [${v.states} state(s)]\n    e.g. ${v.example}`).join('\n');
      assert.ok(result.violations.length === 0, `${result.violations.length} invariant(s) broken:\n${found}`);
    } finally {
      await removeTempDir(trace.dataDir);
    }
  });
}

test.after(() => {
  const states = results.reduce((n, r) => n + r.states, 0);
  const opened = results.reduce((n, r) => n + r.recoveries, 0);
  const ms = results.reduce((n, r) => n + r.ms, 0);
  console.log(`  total: ${states} crash states explored, ${opened} opened, in ${ms} ms over ${results.length} scenario(s)`);
});

test.run();
