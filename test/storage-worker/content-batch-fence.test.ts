/**
 * The fence before a batch's content renames (content-batch.ts): changes
 * whose temp files become ready while a check runs share the next check, so
 * a batch of many pages checks the lock a few times instead of once per page
 * — and still every rename follows a check that began after its own temp
 * file was fsynced (never one that began earlier). Real files in a temp dir;
 * the check is a stand-in for the lock's assertHeld that notes when it ran.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { applyContentChanges } from '../../storage-worker/content-batch.js';
import { ObservedFs } from '../helpers/observed-fs.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('content batch fence');

test('one check serves the renames that became ready while the previous one ran; each follows a check begun after its fsync', async () => {
  const dir = await makeTempDir('content-fence');
  try {
    const pages = join(dir, 'pages');
    await mkdir(pages);
    const fs = new ObservedFs();
    const FILES = 16;
    const changes = Array.from({ length: FILES }, (_, i) => ({ path: join(pages, `p${i}.json`), text: `{"n":${i}}` }));
    const tempsClosed = () => fs.log.filter((e) => e.op === 'close' && e.path.includes('.tmp.')).length;
    let checks = 0;
    const fence = async () => {
      const n = ++checks;
      fs.mark(`check ${n} begins`);
      // The first check lasts until every temp file is written, fsynced and
      // closed (and one turn more): all the others become ready while it runs.
      if (n === 1) {
        while (tempsClosed() < FILES) await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
      fs.mark(`check ${n} ends`);
    };
    const failed = await applyContentChanges(fs, changes, { beforePublish: fence });
    assert.is(failed.size, 0);
    assert.is(checks, 2, 'the first ready file had its own check; the fifteen that were ready during it shared one');
    for (const { path } of changes) {
      const rename = fs.indexOf((e) => e.op === 'rename' && e.dest === path);
      const temp = fs.log[rename]!.path;
      const synced = fs.indexOf((e) => e.op === 'fsync' && e.path === temp);
      let begun = -1;
      for (let i = synced; i < rename; i++) if (fs.log[i]!.op === 'mark' && fs.log[i]!.path.endsWith('begins')) begun = i;
      assert.ok(begun > synced, `${path}: a check began after its temp file was fsynced`);
      const n = fs.log[begun]!.path.split(' ')[1];
      const ended = fs.indexOf((e) => e.op === 'mark' && e.path === `check ${n} ends`, begun);
      assert.ok(ended > begun && ended < rename, `${path}: and ended before its rename`);
    }
  } finally {
    await removeTempDir(dir);
  }
});

test('a failing check fails every change waiting for it, and their temp files are removed', async () => {
  const dir = await makeTempDir('content-fence-fail');
  try {
    const pages = join(dir, 'pages');
    await mkdir(pages);
    const fs = new ObservedFs();
    const changes = Array.from({ length: 4 }, (_, i) => ({ path: join(pages, `p${i}.json`), text: `{"n":${i}}` }));
    const failed = await applyContentChanges(fs, changes, {
      beforePublish: async () => {
        throw new Error('lock lost');
      },
      attempts: 1,
    });
    assert.equal([...failed.keys()].sort(), changes.map((c) => c.path).sort());
    assert.equal(await fs.readdir(pages), [], 'nothing published, no temp file left');
  } finally {
    await removeTempDir(dir);
  }
});

test.run();
