/**
 * How an upload's stored name (`photo.jpg`, `photo-1.jpg`, …) is claimed so
 * that two uploads never get the same one.
 *
 * - `exclusive-create` (the file backend): the name is claimed by creating
 *   the file exclusively (claim-name.ts), as always.
 * - `storage-record` (PostgreSQL, several servers over one blob dir): the
 *   bytes and variants are written under a unique staging stem
 *   (`.staged-<uuid>`), and the name is claimed by `addMedia` itself: the
 *   database keeps every served path unique (`media_paths`), so a taken
 *   name is refused (INVALID_INPUT with `details.path`) and the next suffix
 *   is tried. Only after the record is committed are the staged blobs
 *   published under the claimed name, and only after that, and the folder
 *   fsync, is the upload answered. Exclusive create is not trusted on a
 *   shared file system (NFS implementations differ); a unique constraint is.
 *
 * Crash order (storage-record): killed before the commit → staged blobs
 * with no record (orphans; the doctor may remove them, they are never
 * served). Killed between the commit and the publish → a record whose
 * bytes are still under the staging name; nobody was answered 201 for it.
 * That window is a rename per file long. An acknowledged record always has
 * its bytes.
 *
 * A candidate name whose original still exists in the blob store is skipped
 * before it is offered to the database: a deleted record's binaries are
 * removed *after* its delete commits, so without this an upload could claim
 * the freed name, publish, and then have its bytes removed by that late
 * removal.
 */
import { basename, dirname, join } from 'node:path';
import type { NewMediaRecord } from '../../shared/media-types.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import type { ClaimedName } from './claim-name.js';
import { storedNameCandidate } from './slug.js';

export type NameClaim = 'exclusive-create' | 'storage-record';

/** What a staged upload needs to be renamed once its name is claimed. */
export interface StagedNames {
  /** the slug of the client's name: candidates are `<slug>`, `<slug>-1`, … */
  slug: string;
  /** the staging stem every file of the upload starts with */
  stem: string;
  ext: string;
}

export async function stageName(blobs: BlobStore, dir: string, slug: string, ext: string): Promise<{ claimed: ClaimedName; staged: StagedNames }> {
  const writer = await blobs.createStaged(dir, ext);
  return {
    claimed: { filename: basename(writer.location), path: writer.location, handle: writer.handle },
    staged: { slug, stem: writer.stem, ext },
  };
}

/** A staged upload under candidate suffix `n`: its record and the blob moves (variants first, original last). */
export interface Candidate {
  record: NewMediaRecord;
  moves: Array<{ from: string; to: string }>;
  /** absolute location of the original under the candidate name */
  original: string;
  /** every served path the record claims */
  servedPaths: string[];
}

export function candidate(file: { record: NewMediaRecord; paths: readonly string[]; staged: StagedNames }, n: number): Candidate {
  const { stem, slug, ext } = file.staged;
  const finalStem = storedNameCandidate(slug, n);
  const rename = (name: string): string => (name.startsWith(stem) ? finalStem + name.slice(stem.length) : name);
  const renamePath = (path: string): string => join(dirname(path), rename(basename(path)));
  const urlOf = (path: string): string => `${path.slice(0, path.lastIndexOf('/') + 1)}${rename(path.slice(path.lastIndexOf('/') + 1))}`;
  const sizes: NewMediaRecord['sizes'] = {};
  for (const [name, v] of Object.entries(file.record.sizes)) sizes[name] = { ...v, path: urlOf(v.path), ...(v.filename !== undefined ? { filename: rename(v.filename) } : {}) };
  const record: NewMediaRecord = { ...file.record, filename: `${finalStem}.${ext}`, path: urlOf(file.record.path), sizes };
  const moves = file.paths.map((from) => ({ from, to: renamePath(from) }));
  return {
    record,
    moves,
    original: moves[moves.length - 1]!.to,
    servedPaths: [record.path, ...Object.values(sizes).map((s) => s.path)],
  };
}
