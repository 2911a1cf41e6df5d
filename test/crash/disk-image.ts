/**
 * A disk image: the directories, the names of files (path → logical inode,
 * several names may share one inode: hard links) and each inode's bytes.
 * It is what the crash model produces for every crash state, and what
 * `snapshot` reads from (and `materialize` writes to) a real directory.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NameTable } from '../helpers/recording-fs.js';

export interface DiskImage {
  dirs: Set<string>;
  files: Map<string, number>;
  data: Map<number, Uint8Array>;
}

/** Reads a directory tree into an image; hard links (same dev:ino) share one logical inode. */
export async function snapshot(root: string): Promise<DiskImage & { names: NameTable }> {
  const image: DiskImage = { dirs: new Set(['.']), files: new Map(), data: new Map() };
  const byRealIno = new Map<string, number>();
  let nextIno = 1;
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const child = rel === '.' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        image.dirs.add(child);
        await walk(child);
      } else if (entry.isFile()) {
        const st = await stat(join(root, child), { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        let ino = byRealIno.get(key);
        if (ino === undefined) {
          ino = nextIno++;
          byRealIno.set(key, ino);
          image.data.set(ino, await readFile(join(root, child)));
        }
        image.files.set(child, ino);
      }
    }
  };
  await walk('.');
  return { ...image, names: { files: new Map(image.files), dirs: new Set(image.dirs), nextIno } };
}

/** The bytes under a name, or null when the name is absent. */
export function contentOf(image: DiskImage, path: string): Uint8Array | null {
  const ino = image.files.get(path);
  return ino === undefined ? null : (image.data.get(ino) ?? new Uint8Array());
}

export function hashBytes(bytes: Uint8Array | null): string {
  return bytes === null ? 'absent' : createHash('sha1').update(bytes).digest('hex');
}

/**
 * A key equal for equal images. `skip` names whose content does not matter
 * (temp files: recovery only looks at their names) are keyed by name alone.
 */
export function imageKey(image: DiskImage, skip: (path: string) => boolean = () => false): string {
  const hash = createHash('sha1');
  for (const dir of [...image.dirs].sort()) hash.update(`d ${dir}\n`);
  const inoNames = new Map<number, string>();
  for (const [path, ino] of [...image.files].sort(([a], [b]) => a.localeCompare(b))) {
    // Which names share an inode is part of the image (a .bak that is a link of media.json).
    const first = inoNames.get(ino) ?? path;
    inoNames.set(ino, first);
    hash.update(`f ${path} ${first} ${skip(path) ? '-' : hashBytes(contentOf(image, path))}\n`);
  }
  return hash.digest('hex');
}

/**
 * Writes the image under `root` (which must exist and be empty). Every file is
 * dated an hour back: the restart after a crash comes later, and a file that
 * looks freshly written would make recovery wait for the age limits meant for
 * writers that may still be alive (which a crashed one is not). What an
 * immediate restart would meet instead (a lock it cannot judge) is checked on
 * the bytes (crash-invariants.ts).
 */
export async function materialize(image: DiskImage, root: string): Promise<void> {
  for (const dir of [...image.dirs].sort((a, b) => a.length - b.length)) {
    if (dir !== '.') await mkdir(join(root, dir), { recursive: true });
  }
  const written = new Map<number, string>();
  const past = new Date(Date.now() - 3_600_000);
  for (const [path, ino] of image.files) {
    const full = join(root, path);
    const first = written.get(ino);
    if (first !== undefined) {
      await link(first, full);
      continue;
    }
    await writeFile(full, image.data.get(ino) ?? new Uint8Array());
    await utimes(full, past, past);
    written.set(ino, full);
  }
}
