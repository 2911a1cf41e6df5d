/**
 * What the file backend keeps beyond the library contract (which
 * test/contract/file-backend.contract.test.ts runs against it): opening never
 * writes media.json, a process's first write call reconciles usage first —
 * even a call the service's validation refuses, which answers only once that
 * reconcile is on disk — write calls are admitted in call order, a UUID and
 * its folder name share one library. Driven directly: no worker thread, real
 * temp dirs.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import type { MediaRecord } from '../../shared/media-types.js';
import { FileBackend } from '../../storage-worker/file-backend.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('file backend');

const mediaJson = (dir: string) => join(dir, 'projects', 'p', 'uploads', 'media.json');

async function marksOnDisk(dir: string): Promise<Map<string, string[]>> {
  const doc = parseMediaDocument(await readFile(mediaJson(dir), 'utf8'));
  return new Map(doc.files.map((r) => [r.id, [...(r.usedIn ?? [])].sort()]));
}

/**
 * Project `p` whose page `home` uses `a`, left on disk as a process killed
 * between the two commits of a re-save leaves it: `b` still marked by home.
 */
async function withLeftoverMark(fn: (dir: string, a: MediaRecord, b: MediaRecord) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('file-backend');
  try {
    const setup = new FileBackend({ dataDir: dir });
    await setup.createProject({ id: 'p', name: 'P' });
    const library = await setup.library('p');
    const [a, b] = await library.addMedia(makeImageRecords(2));
    await library.saveContent('home', JSON.stringify({ image: a!.path }), [a!.path]);
    await setup.drain();
    const doc = parseMediaDocument(await readFile(mediaJson(dir), 'utf8'));
    doc.files.find((f) => f.id === b!.id)!.usedIn = ['home'];
    await writeFile(mediaJson(dir), JSON.stringify(doc, null, 2));
    await fn(dir, a!, b!);
  } finally {
    await removeTempDir(dir);
  }
}

test(
  'opening and reading never write media.json; the first write reconciles usage before its own operation',
  readable(() =>
    withLeftoverMark(async (dir, a, b) => {
      const leftover = await readFile(mediaJson(dir));
      const backend = new FileBackend({ dataDir: dir });
      try {
        const library = await backend.library('p');
        assert.equal((await library.getMedia(b.id)).usedIn, ['home'], 'over-marked is the safe side until a write');
        await library.read();
        assert.ok((await readFile(mediaJson(dir))).equals(leftover), 'opening and reading left media.json as it was');

        // The delete sees the trimmed marks: the reconcile applies first, in the same batch.
        const deleted = await library.deleteMedia([b.id]);
        assert.equal(deleted.deleted.map((r) => r.id), [b.id]);
        assert.equal((await marksOnDisk(dir)).get(a.id), ['home']);
      } finally {
        await backend.drain();
      }
    }),
  ),
);

test(
  'a write call its own validation refuses still reconciles, and answers only once the reconcile is on disk',
  readable(() =>
    withLeftoverMark(async (dir, a, b) => {
      const backend = new FileBackend({ dataDir: dir });
      try {
        const refused = new StorageError('INVALID_INPUT', 'refused by the validation');
        const err = await rejection(
          backend.admitWrite('p', () => {
            throw refused;
          }),
        );
        assert.is(err, refused, 'the refusal is answered as it was thrown');
        const marks = await marksOnDisk(dir);
        assert.equal(marks.get(b.id), [], 'the leftover mark was trimmed before the refusal was answered');
        assert.equal(marks.get(a.id), ['home']);
      } finally {
        await backend.drain();
      }
    }),
  ),
);

test(
  'write calls sent together to a project not yet open apply in the order they were sent',
  readable(async () => {
    const dir = await makeTempDir('file-backend-order');
    try {
      const setup = new FileBackend({ dataDir: dir });
      await setup.createProject({ id: 'p', name: 'P' });
      const [rec] = await (await setup.library('p')).addMedia(makeImageRecords(1));
      await setup.drain();
      for (let round = 0; round < 5; round++) {
        const backend = new FileBackend({ dataDir: dir });
        try {
          const titles = Array.from({ length: 6 }, (_, i) => `r${round}-${i}`);
          await Promise.all(titles.map((title) => backend.admitWrite('p', (library) => library.updateMetadata(rec!.id, { title }))));
          assert.is((await (await backend.library('p')).getMedia(rec!.id)).metadata.title, titles.at(-1), `round ${round}`);
        } finally {
          await backend.drain();
        }
      }
    } finally {
      await removeTempDir(dir);
    }
  }),
);

test(
  "an editor project opens under its UUID and its folder name as one library",
  readable(async () => {
    const dir = await makeTempDir('file-backend-alias');
    const uuid = randomUUID();
    try {
      await mkdir(join(dir, 'projects', 'my-site', 'uploads'), { recursive: true });
      await writeFile(
        join(dir, 'projects', 'projects.json'),
        JSON.stringify({ projects: [{ id: uuid, folderName: 'my-site', name: 'My Site' }] }, null, 2),
      );
      const backend = new FileBackend({ dataDir: dir });
      try {
        const byFolder = await backend.getProject('my-site');
        assert.equal([byFolder.id, byFolder.folder, byFolder.name], [uuid, 'my-site', 'My Site']);
        const library = await backend.library(uuid);
        assert.is(await backend.library('my-site'), library, 'one library, one store, one queue');
        assert.is(backend.openProjects, 1);
        const [rec] = await library.addMedia(makeImageRecords(1));
        assert.equal((await (await backend.library('my-site')).getMedia(rec!.id)).id, rec!.id);
      } finally {
        await backend.drain();
      }
    } finally {
      await removeTempDir(dir);
    }
  }),
);

test(
  'a created project has its folder, project.json, registry entry and media.json at once; drain closes every library',
  readable(async () => {
    const dir = await makeTempDir('file-backend-create');
    try {
      const backend = new FileBackend({ dataDir: dir });
      const info = await backend.createProject({ id: 'p', name: 'P' });
      assert.is(info.folder, 'p');
      assert.equal(JSON.parse(await readFile(join(dir, 'projects', 'p', 'project.json'), 'utf8')).name, 'P');
      const registry = JSON.parse(await readFile(join(dir, 'projects', 'projects.json'), 'utf8')) as { projects: Array<{ id: string; folderName: string }> };
      assert.equal(registry.projects.map((e) => [e.id, e.folderName]), [['p', 'p']]);
      assert.equal(parseMediaDocument(await readFile(mediaJson(dir), 'utf8')), { files: [] });

      const first = await backend.library('p');
      assert.equal(await backend.drain(), { projects: 1, operations: 0 });
      assert.is(backend.openProjects, 0);
      assert.is.not(await backend.library('p'), first, 'a drained library is opened again, fresh');
      await backend.drain();
    } finally {
      await removeTempDir(dir);
    }
  }),
);

test.run();
