/**
 * mediastore's error transfer is scoped to its own errors. comlink's transfer
 * handlers are one Map per thread, so a host that embeds mediastore and uses
 * comlink for its own workers shares them: errors of the host's workers (and
 * of what the host exposes on its own channels) must arrive as they always
 * did — comlink's Error with name and message — while a storage call still
 * rejects with a StorageError carrying its stable code.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageClient } from '../../client/storage-client.js';
import { StorageError } from '../../shared/errors.js';
import { Comlink, portEndpoint } from '../../shared/thread-channel.js';
import { rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const S = suite('comlink error transfer is scoped to mediastore');

let dataDir: string;
let storage: StorageClient;

S.before(async () => {
  dataDir = await makeTempDir('comlink-scope');
  // Started first, so its handler is installed before the host's calls below.
  storage = await StorageClient.start({ dataDir, logLevel: 'silent' });
});

S.after(async () => {
  await storage?.close();
  await removeTempDir(dataDir);
});

S('an error thrown in a host comlink worker arrives as the host’s own Error', async () => {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./fixtures/host-comlink-worker.js', import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  const remote = Comlink.wrap<{ thumbnail(name: string): string }>(portEndpoint(port1));
  try {
    await remote.thumbnail('photo.jpg');
    assert.unreachable('the host worker call should have thrown');
  } catch (err) {
    assert.not.instance(err, StorageError);
    assert.instance(err, Error);
    assert.is((err as Error).name, 'ThumbnailError');
    assert.is((err as Error).message, 'cannot make a thumbnail of photo.jpg');
  } finally {
    remote[Comlink.releaseProxy]();
    port1.close();
    await worker.terminate();
  }
});

S('an error the host exposes on its own channel in this thread arrives unchanged', async () => {
  const { port1, port2 } = new MessageChannel();
  Comlink.expose({ fail: () => { throw new TypeError('host says no'); } }, portEndpoint(port1));
  const remote = Comlink.wrap<{ fail(): void }>(portEndpoint(port2));
  try {
    await remote.fail();
    assert.unreachable('the host call should have thrown');
  } catch (err) {
    assert.not.instance(err, StorageError);
    assert.is((err as Error).name, 'TypeError');
    assert.is((err as Error).message, 'host says no');
  } finally {
    port1.close();
    port2.close();
  }
});

S('a storage call still rejects with a StorageError and its code', async () => {
  const err = await rejection(storage.getProject('no-such-project'));
  assert.is(err.code, 'PROJECT_NOT_FOUND');
});

S.run();
