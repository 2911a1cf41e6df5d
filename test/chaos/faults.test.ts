/**
 * Disk faults and a dying storage worker, injected through the file-I/O seam
 * (FaultyFs in the worker; no module is mocked), seen from the HTTP API:
 *
 * - transient EPERM / EBUSY / ENOENT on the media.json rename are retried and
 *   the request succeeds;
 * - persistent ENOSPC (507) or EIO (503) on write, fsync or rename fail the
 *   request with STORAGE_IO, leave no temp file, leave media.json on disk as
 *   it was and the next GET equal to it, and the next request after the fault
 *   clears succeeds;
 * - a worker that dies in the middle of a commit fails the requests in flight
 *   fast with 503 STORAGE_UNAVAILABLE, comes back, and service continues.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultSpec } from '../../shared/storage-api.js';
import type { MediaRecord } from '../../shared/media-types.js';
import { parseTempName } from '../../storage-worker/temp-file-name.js';
import { makePng } from '../../scripts/chaos-png.js';
import { assertError, processed, startServer, uploadsDir, type TestServer } from '../server/harness.js';

const Faults = suite('fault injection through the HTTP API');

/** The main media.json write's temp file; the backup link's temp is `media.json.bak.tmp…` and does not match. */
const MEDIA_TEMP = 'media.json.tmp';

async function withServer(fn: (server: TestServer, file: MediaRecord) => Promise<void>): Promise<void> {
  const server = await startServer('faults', {}, { enableFaultInjection: true });
  try {
    await server.createProject('Site', 'site');
    const up = await server.upload('site', [{ filename: 'photo.png', data: makePng(20, 10), contentType: 'image/png' }]);
    assert.is(up.status, 201, up.text);
    await fn(server, processed(up)[0]!);
  } finally {
    await server.close();
  }
}

async function diskMediaJson(server: TestServer): Promise<string> {
  return readFile(join(uploadsDir(server, 'site'), 'media.json'), 'utf8');
}

/** Temp files anywhere under the project (media.json's, content files', lock stamps'). */
async function tempFiles(server: TestServer): Promise<string[]> {
  const entries = await readdir(join(server.dataDir, 'projects', 'site'), { recursive: true });
  return entries.filter((e) => parseTempName(e.split('/').pop()!) !== null);
}

function metadataEdit(server: TestServer, fileId: string, alt: string) {
  return server.request('PUT', `/api/media/projects/site/media/${fileId}/metadata`, { json: { alt } });
}

for (const code of ['EPERM', 'EBUSY', 'ENOENT']) {
  Faults(`transient ${code} on the media.json rename is retried and the edit succeeds`, async () => {
    await withServer(async (server, file) => {
      const before = (await server.storage.stats()).retries[code] ?? 0;
      await server.storage.injectFaults([{ op: 'rename', code, pathIncludes: MEDIA_TEMP, times: 2 }]);
      const res = await metadataEdit(server, file.id, `after ${code}`);
      assert.is(res.status, 200, res.text);
      const stats = await server.storage.stats();
      assert.is((stats.retries[code] ?? 0) - before, 2, `retries: ${JSON.stringify(stats.retries)}`);
      const disk = JSON.parse(await diskMediaJson(server)) as { files: MediaRecord[] };
      assert.is(disk.files[0]!.metadata.alt, `after ${code}`);
      assert.equal(await tempFiles(server), []);
    });
  });
}

const PERSISTENT: Array<{ op: FaultSpec['op']; code: string; status: number }> = [
  { op: 'write', code: 'ENOSPC', status: 507 },
  { op: 'fsync', code: 'ENOSPC', status: 507 },
  { op: 'rename', code: 'ENOSPC', status: 507 },
  { op: 'write', code: 'EIO', status: 503 },
  { op: 'fsync', code: 'EIO', status: 503 },
  { op: 'rename', code: 'EIO', status: 503 },
];

for (const { op, code, status } of PERSISTENT) {
  Faults(`persistent ${code} on ${op}: ${status} STORAGE_IO, no temp file, disk and memory unchanged, then recovery`, async () => {
    await withServer(async (server, file) => {
      const diskBefore = await diskMediaJson(server);
      await server.storage.injectFaults([{ op, code, pathIncludes: MEDIA_TEMP }]);

      const failed = await metadataEdit(server, file.id, 'never stored');
      assertError(failed, status, 'STORAGE_IO');
      assert.is(await diskMediaJson(server), diskBefore, 'media.json changed on disk');
      assert.equal(await tempFiles(server), []);

      // The in-memory document was not left ahead of the file.
      const listed = await server.request('GET', '/api/media/projects/site/media');
      assert.is(listed.status, 200);
      assert.equal(listed.json, JSON.parse(diskBefore));

      // Still failing while the fault lasts (it is not a one-off).
      assertError(await metadataEdit(server, file.id, 'still not'), status, 'STORAGE_IO');

      await server.storage.clearFaults();
      const ok = await metadataEdit(server, file.id, 'stored');
      assert.is(ok.status, 200, ok.text);
      const disk = JSON.parse(await diskMediaJson(server)) as { files: MediaRecord[] };
      assert.is(disk.files[0]!.metadata.alt, 'stored');
    });
  });
}

Faults('ENOSPC during an upload commit: 507, and neither the record nor its bytes stay behind', async () => {
  await withServer(async (server) => {
    const imagesBefore = (await readdir(join(uploadsDir(server, 'site'), 'images'))).sort();
    await server.storage.injectFaults([{ op: 'write', code: 'ENOSPC', pathIncludes: MEDIA_TEMP }]);
    const res = await server.upload('site', [{ filename: 'second.png', data: makePng(12, 12), contentType: 'image/png' }]);
    assertError(res, 507, 'STORAGE_IO');
    assert.equal((await readdir(join(uploadsDir(server, 'site'), 'images'))).sort(), imagesBefore);
    assert.equal(await tempFiles(server), []);
    await server.storage.clearFaults();
    const again = await server.upload('site', [{ filename: 'second.png', data: makePng(12, 12), contentType: 'image/png' }]);
    assert.is(again.status, 201, again.text);
  });
});

Faults('a worker killed mid-commit: requests in flight fail fast with 503, the worker comes back, service continues', async () => {
  await withServer(async (server, file) => {
    const diskBefore = await diskMediaJson(server);
    let restarted = false;
    server.storage.once('workerRestart', () => (restarted = true));
    await server.storage.injectFaults([{ op: 'rename', action: 'crash', pathIncludes: MEDIA_TEMP, times: 1 }]);

    const started = Date.now();
    const [edit, save, other] = await Promise.all([
      metadataEdit(server, file.id, 'lost with the worker'),
      server.request('POST', '/api/projects/site/pages/home/content', { json: { widgets: [{ settings: { src: file.path } }] } }),
      metadataEdit(server, file.id, 'also in flight'),
    ]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `requests took ${elapsed} ms to fail`);
    // The metadata edits are not retried: either may have been in the batch that died.
    for (const res of [edit, other]) {
      if (res.status !== 200) assertError(res, 503, 'STORAGE_UNAVAILABLE');
    }
    assert.ok(edit.status === 503 || other.status === 503, `no request saw the crash: ${edit.status} ${other.status}`);
    // A content save is idempotent and may have been retried once transparently.
    if (save.status !== 200) assertError(save, 503, 'STORAGE_UNAVAILABLE');
    assert.ok(edit.headers['retry-after'] !== undefined || edit.status === 200);

    // The crash came before the rename: the file on disk is the one from before.
    if (edit.status === 503 && other.status === 503) assert.is(await diskMediaJson(server), diskBefore);

    // Back in service: the next request succeeds on the new worker.
    const ok = await metadataEdit(server, file.id, 'after the restart');
    assert.is(ok.status, 200, ok.text);
    assert.ok(restarted, 'no workerRestart event');
    const health = await server.request('GET', '/health');
    assert.is(health.status, 200);
    assert.is((await server.storage.stats()).workerRestarts, 1);
    const disk = JSON.parse(await diskMediaJson(server)) as { files: MediaRecord[] };
    assert.is(disk.files[0]!.metadata.alt, 'after the restart');
  });
});

Faults.run();
