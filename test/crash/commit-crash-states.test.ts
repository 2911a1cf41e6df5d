/**
 * Crash-state exploration of the commit protocol (ALICE / CrashMonkey style):
 * each scenario's file operations are recorded through the seam, every disk
 * state a crash could leave (crash-model.ts) is built and checked on its
 * bytes, then opened with a fresh storage service and checked again.
 *
 * CRASH_DEPTH=deep explores more ways for unsynced data to be cut, and the
 * long scenarios too (about a minute instead of 10–20 s).
 * CRASH_REPORT=<file> also writes the per-scenario counts and findings as JSON.
 */
import { writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { explore, type Exploration, type Violation } from './explorer.js';
import { KNOWN_FINDINGS, type KnownFinding } from './known-findings.js';
import { SCENARIOS } from './scenarios.js';
import { recordTrace } from './trace.js';
import { removeTempDir } from '../helpers/temp-dir.js';

const deep = process.env.CRASH_DEPTH === 'deep';
const test = suite(`commit crash states${deep ? ' (deep)' : ''}`);
const results: Exploration[] = [];
const seenFindings = new Set<KnownFinding>();

const knownFinding = (scenario: string, v: Violation) =>
  KNOWN_FINDINGS.find((f) => (f.scenario === undefined || f.scenario === scenario) && f.problem.test(v.problem));
const listed = (violations: Violation[]) =>
  violations.map((v) => `- ${v.problem} [${v.states} state(s)]\n    e.g. ${v.example}`).join('\n');

for (const scenario of SCENARIOS.filter((s) => deep || !s.deepOnly)) {
  test(scenario.name, async () => {
    const trace = await recordTrace(scenario.name);
    try {
      assert.ok(trace.acks.length > 0, 'the scenario acknowledged its operations');
      const result = await explore(trace, { deep });
      results.push(result);
      console.log(
        `  ${scenario.name}: ${result.ops} ops, ${result.states} crash states (${result.distinctImages} distinct, ${result.recoveries} opened), ${result.ms} ms`,
      );
      const unknown: Violation[] = [];
      for (const v of result.violations) {
        const finding = knownFinding(scenario.name, v);
        if (finding) seenFindings.add(finding);
        else unknown.push(v);
      }
      const known = result.violations.filter((v) => !unknown.includes(v));
      if (known.length > 0) console.log(`  known finding(s), see known-findings.ts:\n${listed(known)}`);
      assert.ok(unknown.length === 0, `${unknown.length} invariant(s) broken:\n${listed(unknown)}`);
    } finally {
      await removeTempDir(trace.dataDir);
    }
  });
}

test('every known finding still occurs (a fixed one must leave known-findings.ts)', () => {
  const ran = (f: KnownFinding) => f.scenario === undefined || results.some((r) => r.scenario === f.scenario);
  const gone = KNOWN_FINDINGS.filter((f) => ran(f) && !seenFindings.has(f));
  assert.equal(
    gone.map((f) => `${f.scenario ?? 'any scenario'}: ${f.problem.source}`),
    [],
    'these findings no longer occur: remove them from known-findings.ts',
  );
});

test.after(() => {
  const states = results.reduce((n, r) => n + r.states, 0);
  const opened = results.reduce((n, r) => n + r.recoveries, 0);
  const ms = results.reduce((n, r) => n + r.ms, 0);
  console.log(`  total: ${states} crash states explored, ${opened} opened, in ${ms} ms over ${results.length} scenario(s)`);
  const reportFile = process.env.CRASH_REPORT;
  if (reportFile) writeFileSync(reportFile, JSON.stringify({ deep, states, opened, ms, scenarios: results }, null, 2));
});

test.run();
