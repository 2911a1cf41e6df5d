/**
 * A real file system with whole-second timestamps and immediate inode reuse:
 * ext4 made with 128-byte inodes, loop-mounted in a temp dir (needs root,
 * mkfs.ext4 and loop devices — as on the project's machines and CI). Where it
 * cannot be built, `reason` says why and the caller runs the seam version only.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const run = promisify(execFile);

export type CoarseMount = { dir: string; unmount: () => Promise<void> } | { reason: string };

export async function mountCoarseExt4(label: string): Promise<CoarseMount> {
  if (process.getuid?.() !== 0) return { reason: 'not root: cannot loop-mount' };
  const base = await makeTempDir(label);
  const image = join(base, 'fs.img');
  const dir = join(base, 'mnt');
  try {
    await mkdir(dir);
    await run('truncate', ['-s', '64M', image]);
    await run('mkfs.ext4', ['-q', '-F', '-I', '128', image]);
    await run('mount', ['-o', 'loop', image, dir]);
  } catch (err) {
    await removeTempDir(base);
    return { reason: `could not build a loop-mounted ext4 with 128-byte inodes: ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    dir,
    unmount: async () => {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await removeTempDir(base);
    },
  };
}
