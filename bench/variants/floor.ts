/**
 * The physical floor: one durable whole-document commit of the same document
 * (pretty stringify + write a fresh temp file + fsync + rename + fsync of the
 * directory), timed step by step. Any design that rewrites the whole document
 * pays at least this per commit, so `C / commit time` is the best rate group
 * commit can reach with C operations in flight.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaDocument } from '../../shared/media-types.js';
import { MEDIA_FILE } from '../../shared/project-paths.js';

export interface FloorSample {
  stringifyMs: number;
  writeMs: number;
  fsyncMs: number;
  renameMs: number;
  dirFsyncMs: number;
  totalMs: number;
  bytes: number;
}

async function durableCommit(dir: string, target: string, doc: MediaDocument, seq: number): Promise<FloorSample> {
  const t0 = performance.now();
  const text = JSON.stringify(doc, null, 2);
  const t1 = performance.now();
  const tmp = `${target}.tmp.${process.pid}.${seq}`;
  const file = await open(tmp, 'wx');
  let t2: number;
  let t3: number;
  try {
    await file.writeFile(text);
    t2 = performance.now();
    await file.sync();
    t3 = performance.now();
  } finally {
    await file.close();
  }
  await rename(tmp, target);
  const t4 = performance.now();
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
  const t5 = performance.now();
  return {
    stringifyMs: t1 - t0,
    writeMs: t2 - t1,
    fsyncMs: t3 - t2,
    renameMs: t4 - t3,
    dirFsyncMs: t5 - t4,
    totalMs: t5 - t0,
    bytes: Buffer.byteLength(text),
  };
}

/**
 * Commits `doc` repeatedly for about `budgetMs` (at least `minCommits` times,
 * at most `maxCommits`), after one untimed warm-up commit.
 */
export async function measureFloor(
  dir: string,
  doc: MediaDocument,
  opts: { budgetMs: number; minCommits: number; maxCommits: number },
): Promise<FloorSample[]> {
  await mkdir(dir, { recursive: true });
  const target = join(dir, MEDIA_FILE);
  let seq = 0;
  await durableCommit(dir, target, doc, seq++);
  const samples: FloorSample[] = [];
  const started = performance.now();
  while (
    samples.length < opts.maxCommits &&
    (samples.length < opts.minCommits || performance.now() - started < opts.budgetMs)
  ) {
    samples.push(await durableCommit(dir, target, doc, seq++));
  }
  await rm(dir, { recursive: true, force: true });
  return samples;
}
