/**
 * Operations apply in the order the calls arrive (invariant 1), including
 * the first write calls of a process, which also queue the usage reconcile
 * (file-backend.ts, admitWrite). Found by the SIGKILL test: when the first
 * call waited for that reconcile before queueing its own operation, later
 * calls overtook it, and an older metadata update landed last.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageClient } from '../../client/storage-client.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('call order');

test("a process's first write calls, sent together, apply in the order they were sent", async () => {
  const dir = await makeTempDir('call-order');
  try {
    const setup = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
    let id: string;
    try {
      await setup.createProject({ name: 'p', id: 'p' });
      id = (await setup.addMedia('p', makeImageRecords(1)))[0]!.id;
    } finally {
      await setup.close();
    }
    for (let round = 0; round < 5; round++) {
      const client = await StorageClient.start({ dataDir: dir, logLevel: 'silent' });
      try {
        const titles = Array.from({ length: 6 }, (_, i) => `r${round}-${i}`);
        await Promise.all(titles.map((title) => client.updateMetadata('p', id, { title })));
        assert.is((await client.getMedia('p', id)).metadata.title, titles.at(-1), `round ${round}: the last call sent is the last applied`);
      } finally {
        await client.close();
      }
    }
  } finally {
    await removeTempDir(dir);
  }
});

test.run();
