/**
 * Issue 7: a failed upload must never delete the binaries of a record that
 * was committed. Faults come through the worker's fault-injection seam (and
 * a real lock-holding child process for the deadline case) against a real
 * server; after each, media.json is read as BYTES from disk and every record
 * in it must have its original and variants present; where the storage
 * settled the failure, no binary of the request is left either.
 *
 *   - the directory fsync fails after the rename (once: the record is rolled
 *     back and its binaries removed; always: nothing can be confirmed, the
 *     binaries stay as harmless orphans, 503)
 *   - the worker dies right after a durable commit
 *   - the call deadline passes while the worker still waits to commit
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import { raster } from '../fixtures/media-samples.js';
import { assertError, processed, startServer, uploadsDir, type TestServer } from './harness.js';
import { exists } from '../../scripts/file-exists.js';

const Commit = suite('upload: a failed record commit never orphans a record');

const P = 'site';

async function withServer(fn: (server: TestServer) => Promise<void>, storage: { callTimeoutMs?: number; lockTimeoutMs?: number } = {}): Promise<void> {
  const server = await startServer('upload-commit', {}, { enableFaultInjection: true, ...storage });
  try {
    await server.createProject('Site', P);
    // One committed upload first: the project is open and media.json has a record to keep.
    const first = await server.upload(P, [{ filename: 'first.png', data: await raster('png', 300, 200) }]);
    assert.is(first.status, 201, first.text);
    await fn(server);
  } finally {
    await server.close();
  }
}

/** The records in media.json, read from the bytes on disk (not through the storage). */
async function recordsOnDisk(server: TestServer): Promise<MediaRecord[]> {
  const bytes = await readFile(join(uploadsDir(server, P), 'media.json'));
  return (JSON.parse(bytes.toString('utf8')) as { files: MediaRecord[] }).files;
}

/** Every record on disk has its original and every variant on disk. */
async function assertNoRecordWithoutBytes(server: TestServer): Promise<MediaRecord[]> {
  const records = await recordsOnDisk(server);
  for (const r of records) {
    for (const path of [r.path, ...Object.values(r.sizes).map((v) => v.path)]) {
      assert.ok(await exists(join(uploadsDir(server, P), ...path.replace(/^\/uploads\//, '').split('/'))), `${r.originalName}: ${path} is listed but its bytes are gone`);
    }
  }
  return records;
}

async function imageNames(server: TestServer): Promise<string[]> {
  return (await readdir(join(uploadsDir(server, P), 'images'))).sort();
}

/** A 300 px PNG: an original and its thumb variant. */
const upload = async (server: TestServer, name: string) => server.upload(P, [{ filename: name, data: await raster('png', 300, 200, 7) }]);

Commit('directory fsync fails once after the rename: 503, the record is rolled back, then its binaries removed', async () => {
  await withServer(async (server) => {
    const before = await imageNames(server);
    await server.storage.injectFaults([{ op: 'fsync', code: 'EIO', pathEndsWith: 'uploads', times: 1 }]);
    const res = await upload(server, 'late.png');
    assertError(res, 503, 'STORAGE_IO');
    // The fault hit where it was meant to: the new media.json was already renamed in.
    const failed = server.logs.find((l) => l.msg === 'request failed');
    const details = (failed?.err as { details?: Record<string, unknown> } | undefined)?.details;
    assert.is(details?.step, 'fsync-dir');
    assert.is(details?.contentReplaced, true);

    const records = await assertNoRecordWithoutBytes(server);
    assert.equal(records.map((r) => r.originalName), ['first.png'], 'the unacknowledged record was rolled back');
    assert.equal(await imageNames(server), before, 'no binary of the failed upload is left');
  });
});

Commit('directory fsync keeps failing: nothing can be confirmed, so 503 and the binaries stay (orphans, never a bare record)', async () => {
  await withServer(async (server) => {
    const before = await imageNames(server);
    await server.storage.injectFaults([{ op: 'fsync', code: 'EIO', pathEndsWith: 'uploads' }]);
    const res = await upload(server, 'stuck.png');
    assertError(res, 503, 'STORAGE_UNAVAILABLE');
    assert.ok(server.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('binaries kept')), 'the kept binaries are logged');
    await assertNoRecordWithoutBytes(server);
    assert.equal((await imageNames(server)).filter((n) => !before.includes(n)), ['stuck.png', 'stuck.thumb.png']);

    await server.storage.clearFaults();
    const ok = await upload(server, 'after.png');
    assert.is(ok.status, 201, ok.text);
    await assertNoRecordWithoutBytes(server);
  });
});

Commit('the worker dies right after a durable commit: 503, the worker comes back, the record is rolled back with its binaries', async () => {
  await withServer(async (server) => {
    const before = await imageNames(server);
    // Closing the directory handle comes after its fsync succeeded: the commit is durable, the answer never sent.
    await server.storage.injectFaults([{ op: 'close', action: 'crash', pathEndsWith: 'uploads', times: 1 }]);
    const res = await upload(server, 'orphaned.png');
    assertError(res, 503, 'STORAGE_UNAVAILABLE');
    const records = await assertNoRecordWithoutBytes(server);
    // stats() is answered by the new worker, so this waits for the restart.
    assert.is((await server.storage.stats()).workerRestarts, 1, 'the worker did not die');
    assert.equal(records.map((r) => r.originalName), ['first.png']);
    assert.equal(await imageNames(server), before);
    const again = await upload(server, 'orphaned.png');
    assert.is(again.status, 201, again.text);
    await assertNoRecordWithoutBytes(server);
  });
});

Commit('the call deadline passes while the worker waits for the lock: 503, binaries kept, and the late commit finds them', async () => {
  await withServer(
    async (server) => {
      // Another process holds the project's lock until killed: the worker waits to commit, the server's call runs out.
      const holder = new JsonLineChild('lock-holder', [join(uploadsDir(server, P), 'media.json.lock'), '60000', '-1']);
      let res;
      try {
        await holder.next('held');
        res = await upload(server, 'slow.png');
      } finally {
        await holder.kill('SIGKILL');
      }
      assertError(res, 503, 'STORAGE_UNAVAILABLE');
      // The worker now takes the dead holder's lock and commits what was queued; the next upload queues after all of it.
      const next = await upload(server, 'next.png');
      assert.is(next.status, 201, next.text);
      const records = await assertNoRecordWithoutBytes(server);
      assert.ok(records.some((r) => r.id === processed(next)[0]!.id));
      assert.ok((await imageNames(server)).includes('slow.png'), 'binaries kept');
      // The settle (queued after the late addMedia) rolled the record back: the binaries are orphans, which the doctor removes.
      assert.not.ok(records.some((r) => r.originalName === 'slow.png'));
    },
    // The call deadline is short so the test is, but not so short that a loaded machine misses it on ordinary calls.
    { callTimeoutMs: 1500, lockTimeoutMs: 30_000 },
  );
});

Commit.run();
