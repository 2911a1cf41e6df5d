import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import {
  currentProcess,
  holderState,
  parseProcStat,
  processStartTime,
} from '../../storage-worker/process-identity.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';

const X = suite('process-identity');

// 52 fields as the kernel writes them; field 22 (start time) is 4242.
function statLine(comm: string, state = 'S'): string {
  const tail = Array.from({ length: 50 }, (_, i) => String(i + 4));
  tail[0] = state; // field 3
  tail[22 - 3] = '4242';
  return `1234 (${comm}) ${tail.join(' ')}\n`;
}

X('parseProcStat counts fields after the LAST parenthesis (comm may hold spaces and parens)', () => {
  assert.equal(parseProcStat(statLine('node')), { state: 'S', startTime: 4242 });
  assert.equal(parseProcStat(statLine('a) (b) 9 9 9')), { state: 'S', startTime: 4242 });
  assert.equal(parseProcStat(statLine('x y', 'Z')), { state: 'Z', startTime: 4242 });
  assert.is(parseProcStat('garbage'), null);
  assert.is(parseProcStat('1 (x) S 1 2'), null, 'too few fields');
});

X('currentProcess: pid, host, thread, and the start time the kernel reports', () => {
  const me = currentProcess();
  assert.is(me.pid, process.pid);
  assert.is(me.hostname, hostname());
  assert.is(me.threadId, threadId);
  const fromProc = Number(readFileSync('/proc/self/stat', 'utf8').split(') ').pop()!.split(' ')[19]);
  assert.is(me.startTime, fromProc);
  assert.is(processStartTime(process.pid), fromProc);
  assert.is(processStartTime(-1), null);
  assert.is(processStartTime(0), null);
});

X('holderState: self alive; pid reuse (other start time) dead; other host unknown', () => {
  const me = currentProcess();
  assert.is(holderState(me), 'alive');
  assert.is(holderState({ ...me, startTime: (me.startTime ?? 0) + 1 }), 'dead');
  assert.is(holderState({ ...me, startTime: null }), 'alive', 'no start time recorded: the pid decides');
  assert.is(holderState({ ...me, hostname: `${me.hostname}-elsewhere` }), 'unknown');
  assert.is(holderState({ ...me, pid: 0 }), 'unknown', 'pid 0 would address our process group');
  assert.is(holderState({ ...me, pid: -1 }), 'unknown');
});

X('holderState: a thread of this process reported dead by its owner is dead', () => {
  const me = currentProcess();
  const other = { ...me, threadId: me.threadId + 1000 };
  assert.is(holderState(other), 'alive', 'cannot tell without help');
  assert.is(holderState(other, { isThreadAlive: () => false }), 'dead');
  assert.is(holderState(other, { isThreadAlive: () => true }), 'alive');
  assert.is(holderState(me, { isThreadAlive: () => false }), 'alive', 'our own thread is alive by definition');
});

X('holderState: another live process is alive; once it exits, dead', async () => {
  // Any fixture that idles until told works; this one waits for 'go'.
  const child = new JsonLineChild('lock-racer', ['/nonexistent/x.lock', '/nonexistent/occupancy', '1000']);
  let pid = 0;
  try {
    pid = child.pid;
    await child.next('ready');
    const start = processStartTime(pid);
    assert.ok(start !== null);
    assert.is(holderState({ pid, hostname: hostname(), startTime: start }), 'alive');
    assert.is(holderState({ pid, hostname: hostname(), startTime: start + 7 }), 'dead');
  } finally {
    await child.kill('SIGKILL');
  }
  assert.is(holderState({ pid, hostname: hostname(), startTime: null }), 'dead');
});

X('holderState: pid 1 (someone else\'s process, maybe EPERM) is alive', () => {
  assert.is(holderState({ pid: 1, hostname: hostname(), startTime: processStartTime(1) }), 'alive');
});

X.run();
