/**
 * The document in memory and its recovery, on their own
 * (storage-worker/document-recovery.ts): a real media.json, `.bak` and lock
 * file in a temp dir, read through the real lowdb adapter. A corrupt file is
 * quarantined and `.bak` restored, or — with no good version — kept and
 * refused until repaired; a restored `.bak` gets the content files' marks;
 * freshness reloads exactly when another process committed.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import pino from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaDocument, MediaRecord } from '../../shared/media-types.js';
import type { ContentScan } from '../../storage-worker/content-store.js';
import { DocumentRecovery } from '../../storage-worker/document-recovery.js';
import { MediaDocumentFile } from '../../storage-worker/media-document-file.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { ProjectLock } from '../../storage-worker/project-lock.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { ObservedFs } from '../helpers/observed-fs.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('document recovery');

const CORRUPT = '{\n  "files": [\n    { "id": "trunc';

/** A process's view of the library: its own adapter, cache, lock and counters (as a fresh process has). */
function openDocument(mediaPath: string, scan: ContentScan = { generation: '', paths: new Map() }) {
  const fs = new ObservedFs();
  const file = new MediaDocumentFile(mediaPath, fs, { onRetry: () => undefined, onWarning: () => undefined });
  const db = new Low<MediaDocument>(file, { files: [] });
  const lock = new ProjectLock(`${mediaPath}.lock`, { fs, project: 'p', timeoutMs: 5000, staleMs: 10_000, isThreadAlive: () => true });
  const counters = new WorkerCounters();
  const recovery = new DocumentRecovery('p', mediaPath, {
    fs,
    logger: pino({ level: 'silent' }),
    counters,
    file,
    db,
    acquireLock: () => lock.acquire(),
    scanContent: async () => scan,
  });
  /** Writes a version the way a commit does (the adapter keeps `.bak` one version old). */
  const commit = async (doc: MediaDocument) => {
    db.data = doc;
    await db.write();
    await file.publish();
  };
  return { recovery, counters, fs, commit };
}

async function withLibrary(fn: (mediaPath: string, records: MediaRecord[]) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('doc-recovery');
  const uploads = join(dir, 'uploads');
  await mkdir(uploads);
  try {
    await fn(join(uploads, 'media.json'), makeImageRecords(3) as MediaRecord[]);
  } finally {
    await removeTempDir(dir);
  }
}

const onDisk = async (path: string) => parseMediaDocument(await readFile(path, 'utf8'));
const ids = (doc: MediaDocument) => doc.files.map((f) => f.id);

test('a corrupt media.json with a good .bak is quarantined, kept byte for byte, and .bak restored', readable(() =>
  withLibrary(async (mediaPath, [a, b]) => {
    const writer = openDocument(mediaPath);
    await writer.recovery.load(false);
    await writer.commit({ files: [a!] });
    await writer.commit({ files: [a!, b!] }); // .bak now holds [a]
    await writeFile(mediaPath, CORRUPT);
    const { recovery, counters } = openDocument(mediaPath);
    const recovered = await recovery.load(false);
    assert.ok(recovered?.startsWith('quarantined media.json.corrupt-'), `recovery said: ${recovered}`);
    const quarantined = (await readdir(join(mediaPath, '..'))).filter((n) => n.startsWith('media.json.corrupt-'));
    assert.is(quarantined.length, 1, 'one quarantined copy');
    assert.is(await readFile(join(mediaPath, '..', quarantined[0]!), 'utf8'), CORRUPT, 'the corrupt bytes are kept');
    assert.equal(ids(await onDisk(mediaPath)), [a!.id], 'media.json is the last good version');
    assert.equal(ids(recovery.committed().doc), [a!.id], 'and so is memory — not an empty library');
    assert.is(counters.quarantines, 1);
  }),
));

test('with no good version a corrupt file stays in place, the library is refused, and served again once repaired', readable(() =>
  withLibrary(async (mediaPath, [a]) => {
    await writeFile(mediaPath, CORRUPT);
    const { recovery } = openDocument(mediaPath);
    assert.is(await recovery.load(false), 'refused-corrupt');
    assert.is(await readFile(mediaPath, 'utf8'), CORRUPT, 'the corrupt file is not replaced');
    assert.is((await readdir(join(mediaPath, '..'))).filter((n) => n.startsWith('media.json.corrupt-')).length, 1, 'a quarantined copy is kept too');
    assert.is(recovery.state, null);
    try {
      recovery.committed();
      assert.unreachable('a refused library answered');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'CORRUPT_DOCUMENT');
    }
    assert.is((await rejection(recovery.ensureFresh(false))).code, 'CORRUPT_DOCUMENT', 'still refused while the file is unchanged');
    await writeFile(mediaPath, JSON.stringify({ files: [a] }, null, 2));
    await recovery.ensureFresh(false);
    assert.equal(ids(recovery.committed().doc), [a!.id], 'the repaired file is served');
  }),
));

test('a missing media.json with a good .bak is restored, with the marks the content files name', readable(() =>
  withLibrary(async (mediaPath, [a, b]) => {
    const writer = openDocument(mediaPath);
    await writer.recovery.load(false);
    // .bak: home marks A. The newest home.json (the scan) uses B instead.
    await writer.commit({ files: [{ ...a!, usedIn: ['home'] }, b!] });
    await writer.commit({ files: [a!, { ...b!, usedIn: ['home'] }] });
    await rm(mediaPath);
    const { recovery } = openDocument(mediaPath, { generation: '', paths: new Map([['home', [b!.path]]]) });
    assert.is(await recovery.load(false), 'restored-missing-from-backup');
    const usedIn = (doc: MediaDocument, id: string) => doc.files.find((f) => f.id === id)?.usedIn ?? [];
    for (const [where, doc] of [['memory', recovery.committed().doc], ['disk', await onDisk(mediaPath)]] as const) {
      assert.equal(usedIn(doc, b!.id), ['home'], `${where}: B, which home.json uses, is marked`);
      assert.equal(usedIn(doc, a!.id), [], `${where}: A, which it no longer uses, is not`);
    }
  }),
));

test('freshness reloads after another process\'s commit, and only then', readable(() =>
  withLibrary(async (mediaPath, [a, b]) => {
    const other = openDocument(mediaPath);
    await other.recovery.load(false);
    await other.commit({ files: [a!] });
    const { recovery, counters, fs } = openDocument(mediaPath);
    await recovery.load(false);
    const reads = () => fs.log.filter((e) => e.op === 'readFile' && e.path === mediaPath).length;
    const readsBefore = reads();
    await recovery.ensureFresh(true);
    assert.is(counters.externalReloads, 0, 'nothing changed: no reload');
    assert.is(reads(), readsBefore, 'and media.json was not read again');
    await other.commit({ files: [a!, b!] });
    await recovery.ensureFresh(true);
    assert.is(counters.externalReloads, 1, 'another process committed: reloaded');
    assert.equal(ids(recovery.committed().doc), [a!.id, b!.id]);
  }),
));

test.run();
