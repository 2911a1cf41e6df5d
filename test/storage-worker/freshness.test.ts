/**
 * Freshness must not trust file timestamps. On a file system with
 * whole-second mtimes and inode reuse, two same-size versions of media.json
 * have the same stat signature; a process that judged freshness by it served
 * a stale copy after another process's acknowledged write, then wrote that
 * copy back over it (issue finding 3). Two storage workers (as in two
 * processes: each its own thread, lock stamp and cache) share one data dir;
 * every write is acknowledged before the other side reads.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StorageOptions } from '../../shared/storage-api.js';
import { StorageClient } from '../../client/storage-client.js';
import { mountCoarseExt4 } from '../helpers/coarse-mount.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('freshness');
const ROUNDS = 60;

const title = (i: number) => `v${String(i).padStart(4, '0')}`; // every version the same size

async function ping(dataDir: string, extra: Partial<StorageOptions>): Promise<{ stale: number; lost: number }> {
  const options = { dataDir, logLevel: 'silent', ...extra };
  const a = await StorageClient.start(options);
  const b = await StorageClient.start(options);
  let stale = 0;
  let lost = 0;
  try {
    await a.createProject({ name: 'p', id: 'p' });
    const [rec] = await a.addMedia('p', makeImageRecords(1));
    const id = rec!.id;
    await b.getMedia('p', id); // b caches the project now
    for (let i = 1; i <= ROUNDS; i++) {
      // 1 to 4 versions between two looks of b: with .bak holding the previous
      // inode, ext4 cycles media.json through three inode numbers, so b's
      // cached signature comes back after three same-second versions.
      for (let k = i % 4; k >= 0; k--) await a.updateMetadata('p', id, { title: k === 0 ? title(i) : `w${String(k).padStart(4, '0')}` });
      // Acknowledged by a: b must see it, and b's own write must keep it.
      if ((await b.getMedia('p', id)).metadata.title !== title(i)) stale++;
      await b.updateMetadata('p', id, { alt: title(i) });
      const text = await readFile(join(dataDir, 'projects', 'p', 'uploads', 'media.json'), 'utf8');
      const onDisk = (JSON.parse(text) as { files: Array<{ metadata: { title: string; alt: string } }> }).files[0]!.metadata;
      if (onDisk.title !== title(i) || onDisk.alt !== title(i)) lost++;
      // and a must see b's write as well
      if ((await a.getMedia('p', id)).metadata.alt !== title(i)) stale++;
    }
  } finally {
    await a.close();
    await b.close();
  }
  return { stale, lost };
}

test('whole-second timestamps and inode reuse (seam): no stale read, no lost write across processes', async () => {
  const dir = await makeTempDir('coarse-seam');
  try {
    const { stale, lost } = await ping(dir, { simulateCoarseTimestamps: true });
    console.log(`  seam: ${ROUNDS} rounds, stale reads ${stale}, lost writes ${lost}`);
    assert.is(stale, 0, 'stale reads after an acknowledged write of the other process');
    assert.is(lost, 0, 'acknowledged writes overwritten by a stale copy');
  } finally {
    await removeTempDir(dir);
  }
});

test('a real ext4 with 128-byte inodes (whole seconds): no stale read, no lost write across processes', async () => {
  const mount = await mountCoarseExt4('coarse-ext4');
  if ('reason' in mount) {
    console.log(`  real coarse file system not built here (${mount.reason}); the seam version above ran`);
    return;
  }
  try {
    const { stale, lost } = await ping(mount.dir, {});
    console.log(`  ext4 -I 128: ${ROUNDS} rounds, stale reads ${stale}, lost writes ${lost}`);
    assert.is(stale, 0, 'stale reads after an acknowledged write of the other process');
    assert.is(lost, 0, 'acknowledged writes overwritten by a stale copy');
  } finally {
    await mount.unmount();
  }
});

test.run();
