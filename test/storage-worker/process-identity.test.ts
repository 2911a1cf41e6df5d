import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import {
  currentProcess,
  holderState,
  parseProcStat,
  processStartTime,
} from '../../storage-worker/process-identity.js';
import { makeStamp, parseStamp, serializeStamp, type LockStamp } from '../../storage-worker/lock-stamp.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { PID_NAMESPACE_WRAPPER, pidNamespaceUnavailable } from '../fixtures/lock-namespace.js';

const X = suite('process-identity');

// 52 fields as the kernel writes them; field 22 (start time) is 4242.
function statLine(comm: string, state = 'S'): string {
  const tail = Array.from({ length: 50 }, (_, i) => String(i + 4));
  tail[0] = state; // field 3
  tail[22 - 3] = '4242';
  return `1234 (${comm}) ${tail.join(' ')}\n`;
}

/** Host, boot and PID namespace of this process: a pid stamped with these is judged exactly. */
function ourPidSpace(): { hostname: string; bootId: string | null; pidNs: string | null } {
  const { hostname, bootId, pidNs } = currentProcess();
  return { hostname, bootId, pidNs };
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

X('currentProcess: the boot id and PID namespace the kernel reports', () => {
  const me = currentProcess();
  assert.is(me.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  assert.is(me.pidNs, readlinkSync('/proc/self/ns/pid'));
  assert.match(me.pidNs ?? '', /^pid:\[\d+\]$/);
});

X('holderState: another boot or another PID namespace is unknown, whatever the pid says', () => {
  const me = currentProcess();
  assert.is(holderState({ ...me, pidNs: 'pid:[4026599999]' }), 'unknown', 'a container sharing the hostname');
  assert.is(holderState({ ...me, pid: 1, startTime: 0, pidNs: 'pid:[4026599999]' }), 'unknown', "a container's init is not our pid 1");
  assert.is(holderState({ ...me, bootId: '00000000-0000-0000-0000-000000000000' }), 'unknown', 'rebooted since, or a twin host');
  const { bootId: _b, pidNs: _n, ...legacy } = me;
  assert.is(holderState(legacy), 'unknown', 'a stamp from before these fields: any namespace');
  assert.is(holderState({ ...legacy, bootId: me.bootId }), 'unknown');
  // A holder that could not read its namespace (a hidden /proc) is not judged by its pid.
  assert.is(holderState({ ...me, pid: 424242, pidNs: null }), 'unknown');
});

X('stamps carry boot id and PID namespace; legacy stamps without them still parse, without them', () => {
  const stamp = makeStamp();
  assert.equal(parseStamp(Buffer.from(serializeStamp(stamp))), stamp);
  assert.is(stamp.pidNs, currentProcess().pidNs);
  const { bootId: _b, pidNs: _n, ...legacy } = stamp;
  const parsed = parseStamp(Buffer.from(JSON.stringify(legacy)));
  assert.ok(parsed);
  assert.not.ok('bootId' in parsed, 'absent stays absent');
  assert.not.ok('pidNs' in parsed);
  assert.equal(parseStamp(Buffer.from(JSON.stringify({ ...stamp, bootId: null, pidNs: null })))?.pidNs, null);
  assert.is(parseStamp(Buffer.from(JSON.stringify({ ...stamp, pidNs: 7 }))), null, 'wrong type: not ours');
});

X('holderState: a live process in another PID namespace (unshare) is unknown, not dead', async () => {
  const why = pidNamespaceUnavailable();
  if (why !== null) {
    console.log(`    no real PID namespace here (${why}); the seam-based cases above still ran`);
    return;
  }
  const dir = await makeTempDir('identity');
  const child = new JsonLineChild('lock-fenced-holder', [join(dir, 'x.lock'), join(dir, 'x'), '1000', 'own'], PID_NAMESPACE_WRAPPER);
  try {
    const stamp = (await child.next('held')).stamp as LockStamp;
    assert.is(stamp.pid, 1, 'inside its namespace it is pid 1');
    assert.is(stamp.hostname, hostname(), 'and it shares our hostname');
    assert.is(stamp.bootId, currentProcess().bootId);
    assert.is.not(stamp.pidNs, currentProcess().pidNs);
    // Our pid 1 (init) is alive with another start time: judged by pid alone it would be "dead".
    assert.is(holderState(stamp), 'unknown');
  } finally {
    await child.kill('SIGKILL');
    await removeTempDir(dir);
  }
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
  assert.is(holderState(other), 'unknown', 'cannot tell without help: age decides');
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
    assert.is(holderState({ ...ourPidSpace(), pid, startTime: start }), 'alive');
    assert.is(holderState({ ...ourPidSpace(), pid, startTime: start + 7 }), 'dead');
    // Alive must be proven, since it shields a lock from age for good: a pid
    // without a start time to compare may be a reused one.
    assert.is(holderState({ ...ourPidSpace(), pid, startTime: null }), 'unknown');
  } finally {
    await child.kill('SIGKILL');
  }
  assert.is(holderState({ ...ourPidSpace(), pid, startTime: null }), 'dead');
});

X('holderState: pid 1 (someone else\'s process, maybe EPERM) is alive', () => {
  assert.is(holderState({ ...ourPidSpace(), pid: 1, startTime: processStartTime(1) }), 'alive');
});

X.run();
