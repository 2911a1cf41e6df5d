/**
 * Embedding must not take over the host process: importing the standalone
 * server's module starts nothing, and starting and closing a MediaStore
 * installs no signal or crash handlers (the standalone entry,
 * bin/mediastore.ts, is the only code that does).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startMediaStore } from '../../mediastore.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const N = suite('embedding has no process-wide side effects');

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'main.js');
const WATCHED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2', 'uncaughtException', 'unhandledRejection'] as const;

N('importing server/main.js neither serves nor starts a worker: the process ends by itself', async () => {
  const dataDir = await makeTempDir('import-main');
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(MAIN).href)}); console.log('imported');`], {
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // Either it exits (right) or the server says it listens (wrong: then it would never exit).
    const outcome = await new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('"listening"')) resolve('listening');
      });
      child.on('exit', (code) => resolve(`exit ${code}`));
    });
    if (outcome === 'listening') child.kill('SIGKILL');
    assert.is(outcome, 'exit 0', out);
    assert.match(out, /imported/);
  } finally {
    await removeTempDir(dataDir);
  }
});

N('startMediaStore and close install no signal or crash handlers', async () => {
  const dataDir = await makeTempDir('no-signals');
  const before = WATCHED.map((e) => process.listenerCount(e));
  const quiet = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
  const media = await startMediaStore({ dataDir, logger: quiet });
  try {
    await media.storage.createProject({ name: 'Quiet', id: 'quiet' });
    assert.equal(WATCHED.map((e) => process.listenerCount(e)), before);
  } finally {
    await media.close();
    await removeTempDir(dataDir);
  }
  assert.equal(WATCHED.map((e) => process.listenerCount(e)), before);
});

N.run();
