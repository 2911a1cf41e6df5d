/**
 * A process writing to a project through its own PostgresBackend, for the
 * SIGKILL tests. JSON lines on stdout; a line is printed only after the
 * call it reports was acknowledged.
 *
 *   node postgres-writer-child.js <databaseUrl> <projectId> save <source> <paths JSON>
 *     one save; events: saving, saved
 *   node postgres-writer-child.js <databaseUrl> <projectId> loop <loops>
 *     <loops> loops for ever, loop k adding a file then saving page-k-<i % 3>
 *     with it; events: adding, added {record}, saving {source, content}, saved
 */
import type { MediaRecord } from '../../shared/media-types.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { emit, fail, numberArg, stringArg } from '../fixtures/lock-io.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { saveContent } from '../helpers/content-saves.js';

const databaseUrl = stringArg(2, 'databaseUrl');
const projectId = stringArg(3, 'projectId');
const mode = stringArg(4, 'mode');

try {
  const backend = await PostgresBackend.open({ databaseUrl });
  const lib = await backend.library(projectId);
  if (mode === 'save') {
    const source = stringArg(5, 'source');
    const content = { refs: JSON.parse(stringArg(6, 'paths')) as string[] };
    emit('saving', { source, content });
    const res = await saveContent(lib, source, content);
    emit('saved', { source, content, fileIds: res.fileIds });
  } else if (mode === 'loop') {
    const loops = numberArg(5, 'loops');
    await Promise.all(
      Array.from({ length: loops }, async (_, k) => {
        let previous: MediaRecord | undefined;
        for (let i = 0; ; i++) {
          const [record] = makeImageRecords(1, `child-${process.pid}-${k}-${i}`);
          emit('adding', { id: record!.id });
          const [added] = await lib.addMedia([record!]);
          emit('added', { record: added });
          const source = `page-${k}-${i % 3}`;
          const content = { i, refs: [added!.path, ...(previous ? [previous.sizes.thumb!.path] : [])] };
          emit('saving', { source, content });
          const res = await saveContent(lib, source, content);
          emit('saved', { source, content, fileIds: res.fileIds });
          previous = added;
        }
      }),
    );
  } else {
    fail(new Error(`unknown mode ${mode}`));
  }
  await backend.drain();
} catch (err) {
  fail(err);
}
