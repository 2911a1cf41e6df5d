import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { constants as osConstants } from 'node:os';
import { existsSync, fstatSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CRASH_EXIT_CODE, FaultyFs, makeFsError } from '../../storage-worker/fault-injection.js';
import { errnoCode } from '../../storage-worker/fs-seam.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const F = suite<{ dir: string }>('FaultyFs', { dir: '' });

F.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('faulty-fs');
});
F.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

/** Runs `fn` and returns its error; fails the test when it does not throw. */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.unreachable('expected a throw');
  return undefined;
}

F('an injected error looks like the one Node throws', async ({ dir }) => {
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  await writeFile(a, 'x');
  const fs = new FaultyFs();
  fs.inject([{ op: 'rename', code: 'EPERM', times: 1 }]);
  const err = (await thrown(() => fs.rename(a, b))) as NodeJS.ErrnoException & { dest?: string };
  assert.instance(err, Error);
  assert.is(err.code, 'EPERM');
  assert.is(err.errno, -osConstants.errno.EPERM);
  assert.is(err.syscall, 'rename');
  assert.is(err.path, a);
  assert.is(err.dest, b);
  assert.is(err.message, `EPERM: operation not permitted, rename '${a}' -> '${b}'`);
  assert.ok(existsSync(a), 'the failed rename did not happen');
  assert.not.ok(existsSync(b));

  const nospc = makeFsError('ENOSPC', 'write', '/x/y');
  assert.is(nospc.message, "ENOSPC: no space left on device, write '/x/y'");
  assert.is(nospc.errno, -osConstants.errno.ENOSPC);
});

F('times counts down and the fault then disarms; no times fires until cleared', async ({ dir }) => {
  const a = join(dir, 'a');
  await writeFile(a, '1');
  const fs = new FaultyFs();
  fs.inject([{ op: 'stat', code: 'EBUSY', times: 2 }]);
  for (let i = 0; i < 2; i++) {
    const err = await thrown(() => fs.stat(a));
    assert.is(errnoCode(err), 'EBUSY');
    assert.equal(fs.active.map((f) => f.times), i === 0 ? [1] : []);
  }
  assert.is((await fs.stat(a)).size, 1n, 'third stat passes through');
  assert.is(fs.fired, 2);

  fs.inject([{ op: 'readFile' }]); // no code → EIO, no times → until cleared
  for (let i = 0; i < 5; i++) assert.is(errnoCode(await thrown(() => fs.readFile(a))), 'EIO');
  fs.clear();
  assert.equal(fs.active, []);
  assert.is((await fs.readFile(a)).toString(), '1');
});

F('inject copies the spec, so the caller\'s object is not counted down', async () => {
  const spec = { op: 'unlink' as const, code: 'EPERM', times: 3 };
  const fs = new FaultyFs(undefined, [spec]);
  await thrown(() => fs.unlink('/nowhere'));
  assert.is(spec.times, 3);
  assert.is(fs.active[0]?.times, 2);
});

F('pathIncludes limits a fault to matching paths (either side of a rename)', async ({ dir }) => {
  const media = join(dir, 'media.json');
  const other = join(dir, 'other.json');
  await writeFile(media, 'm');
  await writeFile(other, 'o');
  const fs = new FaultyFs();
  fs.inject([{ op: 'readFile', code: 'EACCES', pathIncludes: 'media.json' }]);
  assert.is((await fs.readFile(other)).toString(), 'o');
  assert.is(errnoCode(await thrown(() => fs.readFile(media))), 'EACCES');
  fs.clear();

  fs.inject([{ op: 'rename', code: 'EBUSY', pathIncludes: 'media.json', times: 1 }]);
  const err = await thrown(() => fs.rename(other, media)); // matches the destination
  assert.is(errnoCode(err), 'EBUSY');
  assert.is(await readFile(media, 'utf8'), 'm');
});

F('open-file operations fail as write/fsync/close, matched on the opened path', async ({ dir }) => {
  const target = join(dir, 'doc.json.tmp.1');
  const fs = new FaultyFs();
  fs.inject([
    { op: 'write', code: 'ENOSPC', pathIncludes: 'doc.json', times: 1 },
    { op: 'fsync', code: 'EIO', pathIncludes: 'doc.json', times: 1 },
    { op: 'close', code: 'EIO', pathIncludes: 'doc.json', times: 1 },
    { op: 'fsync', code: 'EIO', pathIncludes: 'unrelated' },
  ]);
  const file = await fs.open(target, 'wx');
  assert.is(errnoCode(await thrown(() => file.writeAll('abc'))), 'ENOSPC');
  await file.writeAll('abc'); // fault spent
  assert.is(errnoCode(await thrown(() => file.sync())), 'EIO');
  await file.sync();
  const fd = file.fd;
  assert.is(errnoCode(await thrown(() => file.close())), 'EIO');
  // A failed close must still release the descriptor, or fault tests leak fds.
  let fdError: unknown;
  try {
    fstatSync(fd);
  } catch (err) {
    fdError = err;
  }
  assert.is(errnoCode(fdError), 'EBADF');
  assert.is(await readFile(target, 'utf8'), 'abc');
  assert.is(fs.active.length, 1, 'only the unrelated fault is left');
});

F("a 'crash' fault ends the worker thread with code 70 before the operation", async ({ dir }) => {
  const from = join(dir, 'victim.tmp');
  const to = join(dir, 'victim.json');
  await writeFile(from, 'new');
  const worker = new Worker(new URL('./fixtures/faulty-fs-crash-worker.js', import.meta.url), {
    workerData: { from, to },
  });
  const messages: string[] = [];
  worker.on('message', (m: string) => messages.push(m));
  try {
    const code = await new Promise<number>((resolve, reject) => {
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    assert.is(code, CRASH_EXIT_CODE);
    assert.equal(messages, ['armed']);
    assert.ok(existsSync(from), 'the rename never ran');
    assert.not.ok(existsSync(to));
  } finally {
    await worker.terminate();
  }
});

F.run();
