/**
 * The typed storage client refuses content nested past MAX_JSON_DEPTH with
 * TOO_DEEP before the structured clone to the worker (which recurses and
 * overflows the stack), and the worker stays healthy and writes nothing.
 */
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_JSON_DEPTH } from '../../shared/json-depth.js';
import { StorageClient } from '../../client/storage-client.js';
import { rejection, readable } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { exists } from '../../scripts/file-exists.js';

const D = suite('storage-client depth');

let dataDir: string;
let storage: StorageClient;
const P = 'deep';

D.before(async () => {
  dataDir = await makeTempDir('client-depth');
  storage = await StorageClient.start({ dataDir, logLevel: 'silent' });
  await storage.createProject({ name: 'Deep', id: P });
});

D.after(async () => {
  await storage?.close();
  await removeTempDir(dataDir);
});

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { child: value };
  return value;
}

D(
  'a page nested 100,000 levels is TOO_DEEP, the worker keeps answering, and no file is written',
  readable(async () => {
    const err = await rejection(storage.saveContent(P, 'home', nested(100_000)));
    assert.is(err.code, 'TOO_DEEP', err.message);
    assert.is(err.details?.maxDepth, MAX_JSON_DEPTH);
    assert.is(storage.workerRestarts, 0);
    assert.is((await storage.ping()).openProjects >= 0, true);
    assert.not.ok(await exists(join(dataDir, 'projects', P, 'pages', 'home.json')));
  }),
);

D(
  'a cycle is refused the same way instead of recursing',
  readable(async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.is((await rejection(storage.saveContent(P, 'loop', cyclic))).code, 'TOO_DEEP');
  }),
);

D(
  'exactly MAX_JSON_DEPTH levels save and read back; one more level is TOO_DEEP',
  readable(async () => {
    await storage.saveContent(P, 'edge', nested(MAX_JSON_DEPTH));
    assert.equal(await storage.readContent(P, 'edge'), nested(MAX_JSON_DEPTH));
    assert.is((await rejection(storage.saveContent(P, 'over', nested(MAX_JSON_DEPTH + 1)))).code, 'TOO_DEEP');
  }),
);

D(
  'every method that sends the caller\'s objects checks them the same way (media paths, records, a metadata patch)',
  readable(async () => {
    const deepArray = (depth: number): unknown => {
      let value: unknown = [];
      for (let i = 1; i < depth; i++) value = [value];
      return value;
    };
    const deep = deepArray(100_000);
    for (const call of [
      () => storage.setUsage(P, 'home', deep as string[]),
      () => storage.deleteMedia(P, deep as string[]),
      () => storage.addMedia(P, deep as never),
      () => storage.updateMetadata(P, 'some-id', { alt: deep as string }),
      () => storage.createProject({ name: deep as string }),
    ]) {
      assert.is((await rejection(call())).code, 'TOO_DEEP');
    }
    assert.is(storage.workerRestarts, 0);
  }),
);

D.run();
