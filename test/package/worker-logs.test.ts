/**
 * The storage worker's log lines reach the logger the host gave, at their
 * own level and with their fields (a pino logger writing into memory, the
 * way a host routes its logs), including the last lines of a worker thread
 * that dies right after writing them.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageClient } from '../../client/storage-client.js';
import { rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const L = suite('worker logs go to the host logger');

interface Line {
  level: number;
  msg?: string;
  host?: string;
  thread?: number;
  project?: string;
  [key: string]: unknown;
}

/** A host's pino logger whose lines are collected in memory. */
function hostLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level: 'info', base: { host: 'editor' } }, sink), lines };
}

/** Lines travel over a port and through a stream: wait (bounded) until `match` shows up. */
async function waitForLine(lines: Line[], match: (l: Line) => boolean): Promise<Line> {
  for (let i = 0; i < 200; i++) {
    const found = lines.find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.unreachable(`no such log line; got ${JSON.stringify(lines.map((l) => l.msg))}`);
  throw new Error('unreachable');
}

L('a commit failure in the worker arrives as an error line with the worker’s fields', async () => {
  const dataDir = await makeTempDir('worker-logs');
  const { logger, lines } = hostLogger();
  const storage = await StorageClient.start({ dataDir, logger, enableFaultInjection: true });
  try {
    await storage.createProject({ name: 'Logs', id: 'logs' });
    const opened = await waitForLine(lines, (l) => l.msg === 'project opened' && l.project === 'logs');
    assert.is(opened.level, 30);
    assert.is(opened.host, 'editor'); // the host's own bindings
    assert.type(opened.thread, 'number'); // the worker's fields

    await storage.injectFaults([{ op: 'rename', code: 'ENOSPC', pathIncludes: 'media.json', times: 1 }]);
    // A new project's first media.json cannot be renamed into place: the commit fails.
    await rejection(storage.createProject({ name: 'Full disk', id: 'full' }));
    const failed = await waitForLine(lines, (l) => l.msg === 'commit failed');
    assert.is(failed.level, 50);
    assert.is(failed.project, 'full');
  } finally {
    await storage.close();
    await removeTempDir(dataDir);
  }
});

L('the last lines of a worker thread that dies are not lost', async () => {
  const dataDir = await makeTempDir('worker-logs-crash');
  const { logger, lines } = hostLogger();
  const storage = await StorageClient.start({ dataDir, logger, enableFaultInjection: true });
  try {
    const { threadId } = await storage.ping();
    await storage.injectFaults([{ op: 'open', pathIncludes: 'media.json.tmp', action: 'crash' }]);
    // The worker opens the project (logging it), then dies writing its first media.json.
    const err = await rejection(storage.createProject({ name: 'Dies', id: 'dies' }));
    assert.is(err.code, 'STORAGE_UNAVAILABLE');
    const opened = await waitForLine(lines, (l) => l.msg === 'project opened' && l.project === 'dies');
    assert.is(opened.thread, threadId);
  } finally {
    await storage.close();
    await removeTempDir(dataDir);
  }
});

L('a host logger at a custom level (one pino in the worker would not know) still starts the worker', async () => {
  const dataDir = await makeTempDir('worker-logs-level');
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  const logger = pino({ customLevels: { notice: 35 }, level: 'notice' }, sink);
  const storage = await StorageClient.start({ dataDir, logger, enableFaultInjection: true });
  try {
    await storage.injectFaults([{ op: 'rename', code: 'ENOSPC', pathIncludes: 'media.json', times: 1 }]);
    await rejection(storage.createProject({ name: 'Custom', id: 'custom' }));
    // Above the host's level: it arrives; below it ('project opened' is info): the host's logger drops it.
    await waitForLine(lines, (l) => l.msg === 'commit failed');
    assert.not.ok(lines.some((l) => l.msg === 'project opened'));
  } finally {
    await storage.close();
    await removeTempDir(dataDir);
  }
});

L.run();
