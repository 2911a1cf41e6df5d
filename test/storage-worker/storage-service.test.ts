/**
 * StorageService over the seam alone: it validates before a backend sees a
 * call (a backend trusts its inputs: ids become paths or keys), and it serves
 * a backend that has no `admitWrite` (the seam's optional door) through
 * `library()`. The backend is the real file backend in a temp dir, seen
 * through the LibraryBackend interface only, with the calls it receives
 * recorded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileBackend } from '../../storage-worker/file-backend.js';
import type { LibraryBackend } from '../../storage-worker/library-backend.js';
import { StorageService } from '../../storage-worker/storage-service.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const test = suite('storage service');

/** The file backend without its optional admitWrite, recording which projects the service asks for. */
function seamOnly(files: FileBackend, asked: string[]): LibraryBackend {
  return {
    kind: files.kind,
    createProject: (input) => files.createProject(input),
    listProjects: () => files.listProjects(),
    getProject: (id) => (asked.push(id), files.getProject(id)),
    deleteProject: (id) => (asked.push(id), files.deleteProject(id)),
    library: (id) => (asked.push(id), files.library(id)),
    drain: () => files.drain(),
  };
}

async function withService(fn: (service: StorageService, asked: string[]) => Promise<void>): Promise<void> {
  const dataDir = await makeTempDir('service');
  const files = new FileBackend({ dataDir });
  const asked: string[] = [];
  const counters = new WorkerCounters();
  const service = new StorageService({ dataDir }, { backend: seamOnly(files, asked), counters, openProjects: () => files.openProjects, faults: null });
  try {
    await fn(service, asked);
  } finally {
    await service.drain();
    await removeTempDir(dataDir);
  }
}

test(
  'a backend without admitWrite serves every write through library()',
  readable(() =>
    withService(async (service, asked) => {
      await service.createProject({ id: 'p', name: 'P' });
      const [a] = await service.addMedia('p', makeImageRecords(1));
      await service.updateMetadata('p', a!.id, { title: 'Sunset' });
      const saved = await service.saveContent('p', 'home', { blocks: [{ image: a!.path }] });
      assert.equal(saved.fileIds, [a!.id]);
      assert.equal((await service.usage('p', a!.id)).usedIn, ['home']);
      assert.is((await service.getMedia('p', a!.id)).metadata.title, 'Sunset');
      assert.is(asked.filter((id) => id === 'p').length >= 3, true, 'each write asked the backend for the library');
      assert.is((await service.ping()).openProjects, 1);
    }),
  ),
);

test(
  'an invalid project id is refused before any backend sees it',
  readable(() =>
    withService(async (service, asked) => {
      const bad = '../elsewhere';
      // One at a time: each refusal is awaited before the next call starts.
      const calls = [
        () => service.getProject(bad),
        () => service.deleteProject(bad),
        () => service.listMedia(bad),
        () => service.getMedia(bad, 'x'),
        () => service.addMedia(bad, makeImageRecords(1)),
        () => service.saveContent(bad, 'home', {}),
        () => service.refreshUsage(bad),
        () => service.createProject({ id: bad, name: 'x' }),
      ];
      for (const call of calls) assert.is((await rejection(call())).code, 'INVALID_INPUT');
      assert.equal(asked, [], 'the backend was never asked');
    }),
  ),
);

test(
  'refused input changes nothing, and content a page never saved is PAGE_NOT_FOUND under the id asked for',
  readable(() =>
    withService(async (service) => {
      await service.createProject({ id: 'p', name: 'P' });
      const [a] = await service.addMedia('p', makeImageRecords(1));
      const before = await service.listMedia('p');
      assert.is((await rejection(service.updateMetadata('p', a!.id, { title: 42 } as never))).code, 'INVALID_INPUT');
      assert.is((await rejection(service.saveContent('p', '../escape', {}))).code, 'INVALID_INPUT');
      assert.is((await rejection(service.setUsage('p', 'home', 'not-an-array' as never))).code, 'INVALID_INPUT');
      assert.equal(await service.listMedia('p'), before);
      const missing = await rejection(service.readContent('p', 'never'));
      assert.is(missing.code, 'PAGE_NOT_FOUND');
      assert.equal(missing.details, { projectId: 'p', source: 'never' });
    }),
  ),
);

test(
  'a delete of one file in use is MEDIA_IN_USE naming it and its sources, and keeps it; a free one answers its record',
  readable(() =>
    withService(async (service) => {
      await service.createProject({ id: 'p', name: 'P' });
      const [used, free] = await service.addMedia('p', makeImageRecords(2));
      await service.saveContent('p', 'home', { hero: used!.path });
      const refused = await rejection(service.deleteMediaFile('p', used!.id));
      assert.is(refused.code, 'MEDIA_IN_USE');
      assert.equal(refused.details, { fileId: used!.id, filename: used!.filename, usedIn: ['home'] });
      assert.is((await service.getMedia('p', used!.id)).id, used!.id);
      assert.is((await service.deleteMediaFile('p', free!.id)).id, free!.id);
      assert.is((await rejection(service.deleteMediaFile('p', free!.id))).code, 'MEDIA_NOT_FOUND');
      assert.is((await rejection(service.deleteMediaFile('p', '../x'))).code, 'INVALID_INPUT');
    }),
  ),
);

test(
  'a project created by name gets the shared slug as its id: "Résumé" is resume, the next one resume-2',
  readable(() =>
    withService(async (service) => {
      assert.is((await service.createProject({ name: 'Résumé' })).id, 'resume');
      assert.is((await service.createProject({ name: 'Resume' })).id, 'resume-2');
    }),
  ),
);

test.run();
