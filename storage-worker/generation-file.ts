/**
 * `media.json.gen`: a random nonce, so a process can tell "media.json (or a
 * content file) changed since I looked" where file timestamps cannot. A
 * commit replaces it when its files could otherwise look unchanged: it wrote
 * content files (a refresh's pre-lock scan checks the nonce), or the mtime
 * bump of its media.json was rounded away by the file system (see
 * AtomicJsonFile's `newerMtime`). Elsewhere the stat signature of media.json
 * already differs from every earlier version's, and the nonce write (a temp
 * file and a rename, ~0.2 ms) is saved.
 *
 * Why a file of our own: a stat signature (dev:ino:size:mtime) stops changing
 * on file systems with whole-second timestamps (ext3, FAT/exFAT, HFS+, many
 * NFSv3/SMB exports): the mtime bump that orders two versions is rounded away
 * and ext4 hands the freed inode number straight to the next file, so two
 * same-size versions look identical and another process keeps serving — and
 * writing back — a stale copy. A nonce never repeats, whatever the clock.
 *
 * Ordering (what makes it sound):
 * - a writer replaces the nonce AFTER everything the batch renamed into place
 *   and BEFORE it acknowledges anything, under the project lock;
 * - a reader reads the nonce BEFORE it reads media.json, and tags what it
 *   read with that nonce. What it read is then at least as new as the tag, so
 *   a later comparison can only reload needlessly, never keep stale data.
 * A writer that dies between its renames and the nonce acknowledged nothing;
 * whoever takes its dead lock replaces the nonce before writing (so everyone
 * reloads what the dead writer left).
 *
 * The nonce is written through a unique temp file and rename
 * (temp-file-publish.ts) but never
 * fsynced: it only has to be seen by processes running now. After a power
 * cut every process starts with an empty cache, and an old, empty or missing
 * nonce then means nothing but "reload once".
 */
import { randomBytes } from 'node:crypto';
import { errnoCode, type FsSeam } from './fs-seam.js';
import { publishFile } from './temp-file-publish.js';

/** What `read()` returns when there is no nonce file (yet). */
export const NO_GENERATION = '-';

export class GenerationFile {
  constructor(
    readonly path: string,
    private readonly fs: FsSeam,
  ) {}

  /** The current nonce, or NO_GENERATION when there is none. */
  async read(): Promise<string> {
    try {
      const text = (await this.fs.readFile(this.path)).toString('utf8').trim();
      return text.length > 0 ? text : NO_GENERATION;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return NO_GENERATION;
      throw err;
    }
  }

  /** Replaces the nonce with a fresh one (call under the project lock, before acknowledging); returns it. */
  async bump(): Promise<string> {
    const nonce = randomBytes(12).toString('hex');
    // No fsync: see the header (only processes running now need to see it).
    await publishFile(this.fs, this.path, nonce, { by: 'rename', syncTemp: false });
    return nonce;
  }
}
