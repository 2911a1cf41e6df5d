/**
 * The contract every LibraryBackend keeps (storage-worker/library-backend.ts),
 * driven through the seam alone: projects, a project's library, content and
 * usage, with the inputs the service would hand over (validated records,
 * serialised content and the media paths extraction found in it). A backend
 * runs it from its own test file:
 *
 *   defineLibraryContract('files', async () => ({ backend, cleanup }));
 *
 * Each test gets a fresh backend over fresh storage; the contract drains it
 * (as a session's end does) before `cleanup`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord, NewMediaRecord } from '../../shared/media-types.js';
import type { LibraryBackend, MediaLibrary } from '../../storage-worker/library-backend.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable, rejection } from '../helpers/storage-errors.js';

export interface ContractBackend {
  backend: LibraryBackend;
  cleanup(): Promise<void>;
}

/** What the service hands `saveContent`: the serialised content and the media paths found in it. */
function saved(content: unknown): [string, string[]] {
  return [JSON.stringify(content, null, 2), extractMediaPaths(content)];
}

const usedInById = async (library: MediaLibrary): Promise<Map<string, string[]>> =>
  new Map((await library.read()).doc.files.map((r) => [r.id, [...(r.usedIn ?? [])].sort()]));

export function defineLibraryContract(name: string, makeBackend: () => Promise<ContractBackend>): void {
  const test = suite(`library contract: ${name}`);

  /** A fresh backend, drained and cleaned up after `fn` whatever happens. */
  const withBackend = (fn: (backend: LibraryBackend) => Promise<void>) =>
    readable(async () => {
      const made = await makeBackend();
      try {
        await fn(made.backend);
      } finally {
        try {
          await made.backend.drain();
        } finally {
          await made.cleanup();
        }
      }
    });

  /** A fresh backend with one project `p` and `count` image records in it. */
  const withLibrary = (count: number, fn: (library: MediaLibrary, records: MediaRecord[], backend: LibraryBackend) => Promise<void>) =>
    withBackend(async (backend) => {
      await backend.createProject({ id: 'p', name: 'P' });
      const library = await backend.library('p');
      const records = count > 0 ? await library.addMedia(makeImageRecords(count)) : [];
      await fn(library, records, backend);
    });

  // --- projects -----------------------------------------------------------------

  test(
    'a project is created under its id, listed, found, and gone once deleted',
    withBackend(async (backend) => {
      const made = await backend.createProject({ id: 'alpha', name: 'Alpha' });
      assert.is(made.id, 'alpha');
      assert.is(made.name, 'Alpha');
      assert.ok(!Number.isNaN(Date.parse(made.createdAt)), 'createdAt is a date');
      assert.equal((await backend.getProject('alpha')).name, 'Alpha');
      assert.equal((await backend.listProjects()).map((p) => p.id), ['alpha']);

      await backend.deleteProject('alpha');
      assert.equal(await backend.listProjects(), []);
      assert.is((await rejection(backend.getProject('alpha'))).code, 'PROJECT_NOT_FOUND');
      assert.is((await rejection(backend.library('alpha'))).code, 'PROJECT_NOT_FOUND');
    }),
  );

  test(
    'a taken id is refused with PROJECT_EXISTS; an id derived from a name never takes one in use',
    withBackend(async (backend) => {
      await backend.createProject({ id: 'site', name: 'First' });
      assert.is((await rejection(backend.createProject({ id: 'site', name: 'Second' }))).code, 'PROJECT_EXISTS');
      assert.is((await backend.getProject('site')).name, 'First', 'the refused create changed nothing');
      const derived = await backend.createProject({ name: 'site' });
      assert.is.not(derived.id, 'site');
      assert.equal((await backend.listProjects()).map((p) => p.id).sort(), [derived.id, 'site'].sort());
    }),
  );

  test(
    'an unknown project is PROJECT_NOT_FOUND everywhere',
    withBackend(async (backend) => {
      assert.is((await rejection(backend.getProject('nope'))).code, 'PROJECT_NOT_FOUND');
      assert.is((await rejection(backend.library('nope'))).code, 'PROJECT_NOT_FOUND');
      assert.is((await rejection(backend.deleteProject('nope'))).code, 'PROJECT_NOT_FOUND');
    }),
  );

  test(
    'a project deleted and created again starts with an empty library',
    withBackend(async (backend) => {
      await backend.createProject({ id: 'p', name: 'P' });
      await (await backend.library('p')).addMedia(makeImageRecords(2));
      await backend.deleteProject('p');
      await backend.createProject({ id: 'p', name: 'P again' });
      assert.equal((await (await backend.library('p')).read()).doc.files, []);
    }),
  );

  // --- media records ----------------------------------------------------------------

  test(
    'a new library is empty, and its JSON bytes are the same document',
    withLibrary(0, async (library) => {
      const { doc, json } = await library.read();
      assert.equal(doc, { files: [] });
      assert.equal(JSON.parse(new TextDecoder().decode(json)), doc);
    }),
  );

  test(
    'added records are answered and stored as given, without usedIn, and found by id',
    withLibrary(0, async (library) => {
      const input = makeImageRecords(3);
      const added = await library.addMedia(input);
      assert.equal(added, input);
      assert.ok(added.every((r) => !('usedIn' in r)), 'a new record is used nowhere: no usedIn key');
      const { doc, json } = await library.read();
      assert.equal(doc.files, input);
      assert.equal(JSON.parse(new TextDecoder().decode(json)), doc);
      assert.equal(await library.getMedia(input[1]!.id), input[1]);
      assert.is((await rejection(library.getMedia('no-such-file'))).code, 'MEDIA_NOT_FOUND');
    }),
  );

  test(
    'an add that reuses an id or a path is refused whole and changes nothing',
    withLibrary(2, async (library, [a]) => {
      const before = (await library.read()).doc;
      const [fresh] = makeImageRecords(1, 'fresh');
      const sameId: NewMediaRecord = { ...makeImageRecords(1, 'other')[0]!, id: a!.id };
      assert.is((await rejection(library.addMedia([fresh!, sameId]))).code, 'INVALID_INPUT');
      const samePath: NewMediaRecord = { ...makeImageRecords(1, 'other')[0]!, path: a!.path };
      assert.is((await rejection(library.addMedia([fresh!, samePath]))).code, 'INVALID_INPUT');
      assert.equal((await library.read()).doc, before);
    }),
  );

  test(
    'metadata updates change the fields the type allows; an unknown id is MEDIA_NOT_FOUND',
    withLibrary(1, async (library, [a]) => {
      const updated = await library.updateMetadata(a!.id, { title: 'Sunset', alt: 'A sunset' });
      assert.is(updated.metadata.title, 'Sunset');
      assert.is(updated.metadata.alt, 'A sunset');
      assert.equal((await library.getMedia(a!.id)).metadata, updated.metadata);
      assert.is((await rejection(library.updateMetadata('no-such-file', { title: 'x' }))).code, 'MEDIA_NOT_FOUND');
    }),
  );

  // --- content and usage ----------------------------------------------------------------

  test(
    'usage is exact once a save is acknowledged: a re-save moves the marks',
    withLibrary(3, async (library, [a, b, c]) => {
      const first = { widgets: [{ settings: { image: a!.path } }, { settings: { image: b!.sizes.thumb!.path } }] };
      const answer = await library.saveContent('home', ...saved(first));
      assert.is(answer.source, 'home');
      assert.equal([...answer.fileIds].sort(), [a!.id, b!.id].sort(), 'a size variant marks its record');
      let marks = await usedInById(library);
      assert.equal([marks.get(a!.id), marks.get(b!.id), marks.get(c!.id)], [['home'], ['home'], []]);

      const second = { widgets: [{ settings: { image: c!.path } }] };
      await library.saveContent('home', ...saved(second));
      marks = await usedInById(library);
      assert.equal([marks.get(a!.id), marks.get(b!.id), marks.get(c!.id)], [[], [], ['home']], 'the old marks are gone at acknowledgment');
      assert.equal(await library.readContent('home'), second);
    }),
  );

  test(
    'saved content is read back and listed among the sources; unsaved content is undefined',
    withLibrary(1, async (library, [a]) => {
      const header = { logo: a!.path, nested: [{ text: 'Ünïcödé' }] };
      await library.saveContent('global:header', ...saved(header));
      await library.saveContent('about', ...saved({ text: 'no media' }));
      assert.equal(await library.readContent('global:header'), header);
      assert.equal((await library.contentSources()).sort(), ['about', 'global:header']);
      assert.is(await library.readContent('never-saved'), undefined);
      assert.equal((await usedInById(library)).get(a!.id), ['global:header']);
    }),
  );

  test(
    'deleteMedia deletes what is unused, refuses what is in use (saying where) and reports what does not exist',
    withLibrary(2, async (library, [used, unused]) => {
      await library.saveContent('home', ...saved({ image: used!.path }));
      const result = await library.deleteMedia([used!.id, unused!.id, 'no-such-file']);
      assert.equal(result.deleted.map((r) => r.id), [unused!.id]);
      assert.equal(result.inUse, [{ id: used!.id, filename: used!.filename, usedIn: ['home'] }]);
      assert.equal(result.notFound, ['no-such-file']);
      assert.equal((await library.read()).doc.files.map((r) => r.id), [used!.id]);
    }),
  );

  test(
    'deleteContent removes the content and its marks; a source without content is PAGE_NOT_FOUND',
    withLibrary(1, async (library, [a]) => {
      await library.saveContent('home', ...saved({ image: a!.path }));
      await library.deleteContent('home');
      assert.is(await library.readContent('home'), undefined);
      assert.equal(await library.contentSources(), []);
      assert.equal((await usedInById(library)).get(a!.id), []);
      assert.is((await rejection(library.deleteContent('home'))).code, 'PAGE_NOT_FOUND');
    }),
  );

  test(
    'setUsage marks without content; refreshUsage rebuilds all usage from the saved content',
    withLibrary(3, async (library, [a, b, c]) => {
      await library.saveContent('home', ...saved({ image: a!.path }));
      const set = await library.setUsage('ghost', [b!.path]);
      assert.equal(set.fileIds, [b!.id]);
      // A mark no content backs: what a crash between two commits could leave.
      await library.setUsage('home', [a!.path, c!.path]);
      assert.equal((await usedInById(library)).get(c!.id), ['home']);

      const refreshed = await library.refreshUsage();
      assert.equal(refreshed, { sources: 1, filesInUse: 1 });
      const marks = await usedInById(library);
      assert.equal([marks.get(a!.id), marks.get(b!.id), marks.get(c!.id)], [['home'], [], []], 'a source without content uses nothing');
    }),
  );

  test.run();
}
