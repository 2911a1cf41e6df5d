/**
 * Two PostgresBackend instances — two servers, each its own pool — hammer
 * one project with overlapping saves, deletes, adds, metadata updates, page
 * deletions and usage refreshes.
 * Afterwards: no acknowledged write is lost, usage is exactly what the
 * stored content names, every stored content is one whole acknowledged
 * save, and no delete removed a file a page was known to use.
 */
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageError } from '../../shared/errors.js';
import type { MediaRecord, NewMediaRecord } from '../../shared/media-types.js';
import type { MediaLibrary } from '../../storage-worker/library-backend.js';
import { PostgresBackend } from '../../storage-worker/postgres/postgres-backend.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { startTestPostgres, type TestPostgres } from '../../scripts/throwaway-postgres.js';
import { readable } from '../helpers/storage-errors.js';
import { saveContent } from '../helpers/content-saves.js';

const PAGES = ['home', 'about', 'blog', 'shop', 'contact', 'team', 'global:header', 'global:footer'];
const LOOPS_PER_SERVER = 4;
const ROUNDS = 80;

interface Save {
  source: string;
  /** null: a deleteContent of the page */
  content: { n: string; refs: string[] } | null;
  fileIds: string[];
  start: number;
  end: number;
}
interface Delete {
  requested: string[];
  deleted: string[];
  inUse: string[];
  start: number;
  end: number;
}

const test = suite('two servers, one project');
let pg: TestPostgres;

test.before(async () => {
  pg = await startTestPostgres('two-servers');
});
test.after(async () => {
  await pg?.close();
});

test('overlapping saves, deletes, adds and metadata updates from two servers: nothing lost, usage exact', readable(async () => {
  const servers = [await PostgresBackend.open({ databaseUrl: pg.url }), await PostgresBackend.open({ databaseUrl: pg.url })];
  try {
    await servers[0]!.createProject({ id: 'shared', name: 'shared' });
    const libs = await Promise.all(servers.map((s) => s.library('shared')));
    const initial = await libs[0]!.addMedia(makeImageRecords(30, 'seed'));
    const known: MediaRecord[] = [...initial];
    const added = new Set(initial.map((r) => r.id));
    const saves: Save[] = [];
    const deletes: Delete[] = [];
    /** per record a loop owns: the last title it was acknowledged */
    const titles = new Map<string, string>();
    let clock = 0;

    async function loop(lib: MediaLibrary, name: string): Promise<void> {
      const own = (await lib.addMedia(makeImageRecords(1, `own-${name}`)))[0]!;
      added.add(own.id);
      for (let round = 0; round < ROUNDS; round++) {
        const roll = Math.random();
        if (roll < 0.4) {
          const source = PAGES[Math.floor(Math.random() * PAGES.length)]!;
          const refs = pick(known, 1 + Math.floor(Math.random() * 4)).map((r) => (Math.random() < 0.3 ? r.sizes.thumb!.path : r.path));
          const content = { n: `${name}-${round}`, refs };
          const start = ++clock;
          const res = await saveContent(lib, source, content);
          saves.push({ source, content, fileIds: res.fileIds, start, end: ++clock });
        } else if (roll < 0.65) {
          const start = ++clock;
          // One file at random, one a page was last seen to use (the in-use check must refuse it).
          const recent = saves[saves.length - 1 - Math.floor(Math.random() * Math.min(5, saves.length))];
          const requested = [...pick(known, 1).map((r) => r.id), ...pick(recent?.fileIds ?? [], recent?.fileIds.length ? 1 : 0)];
          const res = await lib.deleteMedia(requested);
          deletes.push({ requested, deleted: res.deleted.map((r) => r.id), inUse: res.inUse.map((u) => u.id), start, end: ++clock });
        } else if (roll < 0.7) {
          // Rebuilding usage from the stored content must agree with what the saves marked.
          await lib.refreshUsage();
        } else if (roll < 0.75) {
          const source = PAGES[Math.floor(Math.random() * PAGES.length)]!;
          const start = ++clock;
          try {
            await lib.deleteContent(source);
          } catch (err) {
            if (!(err instanceof StorageError && err.code === 'PAGE_NOT_FOUND')) throw err;
          }
          // Counts as a write of the page for the in-use check below (it unmarks the page's files).
          saves.push({ source, content: null, fileIds: [], start, end: ++clock });
        } else if (roll < 0.9) {
          const fresh: NewMediaRecord[] = makeImageRecords(1, `add-${name}-${round}-${randomUUID().slice(0, 4)}`);
          known.push(...fresh.map((r) => ({ ...r })));
          const res = await lib.addMedia(fresh);
          for (const r of res) added.add(r.id);
        } else {
          const title = `${name}-${round}`;
          const updated = await lib.updateMetadata(own.id, { title });
          assert.is(updated.metadata.title, title);
          titles.set(own.id, title);
        }
      }
    }

    await Promise.all(
      libs.flatMap((lib, s) => Array.from({ length: LOOPS_PER_SERVER }, (_, l) => loop(lib, `s${s}l${l}`))),
    );

    const { doc } = await libs[1]!.read();
    const byId = new Map(doc.files.map((r) => [r.id, r]));
    const deleted = new Set(deletes.flatMap((d) => d.deleted));

    // Nothing acknowledged is lost.
    for (const id of added) assert.is(byId.has(id), !deleted.has(id), `record ${id}: present exactly when no delete was acknowledged`);
    for (const [id, title] of titles) assert.is(byId.get(id)?.metadata.title, title, `the last acknowledged title of ${id}`);

    // Every stored content is one whole acknowledged save; usage is exactly what the stored content names.
    const owner = new Map<string, string>();
    for (const r of doc.files) for (const p of [r.path, ...Object.values(r.sizes).map((s) => s.path)]) owner.set(p, r.id);
    const expected = new Map<string, Set<string>>();
    for (const source of await libs[0]!.contentSources()) {
      const content = await libs[0]!.readContent(source);
      assert.ok(saves.some((s) => s.source === source && JSON.stringify(s.content) === JSON.stringify(content)), `${source} holds an acknowledged save`);
      for (const path of extractMediaPaths(content)) {
        const id = owner.get(path);
        if (id !== undefined) (expected.get(id) ?? expected.set(id, new Set()).get(id)!).add(source);
      }
    }
    for (const r of doc.files) {
      assert.equal([...(r.usedIn ?? [])].sort(), [...(expected.get(r.id) ?? [])].sort(), `usage of ${r.filename}`);
      assert.is(new Set(r.usedIn ?? []).size, (r.usedIn ?? []).length, 'each source at most once');
    }

    // A delete never removes a file a page provably used for the whole of the delete: an
    // acknowledged save marked it before the delete started, and no other save of that page overlapped.
    let provablyInUse = 0;
    for (const d of deletes) {
      for (const id of new Set(d.requested)) {
        const used = saves.find(
          (s) =>
            s.end < d.start &&
            s.fileIds.includes(id) &&
            !saves.some((o) => o !== s && o.source === s.source && o.end > s.start && o.start < d.end),
        );
        if (!used) continue;
        provablyInUse++;
        assert.ok(d.inUse.includes(id) && !d.deleted.includes(id), `${id} was used by ${used.source} throughout a delete that removed it`);
      }
    }
    assert.ok(provablyInUse > 0, 'some delete asked for a file a page provably used');
    assert.ok(saves.length > 80 && deletes.length > 30, `enough overlap happened (${saves.length} saves, ${deletes.length} deletes)`);
    console.log(`two servers: ${saves.length} saves, ${deletes.length} deletes (${deleted.size} files deleted, ${provablyInUse} refused as provably in use), ${doc.files.length} files left`);
  } finally {
    for (const s of servers) await s.drain();
  }
}));

test('two servers creating projects of one name at once: every one gets its own id, none is lost', readable(async () => {
  const servers = [await PostgresBackend.open({ databaseUrl: pg.url }), await PostgresBackend.open({ databaseUrl: pg.url })];
  try {
    const made = await Promise.all(Array.from({ length: 10 }, (_, i) => servers[i % 2]!.createProject({ name: 'Same Name' })));
    const ids = made.map((p) => p.id).sort();
    assert.equal(ids, ['same-name', ...Array.from({ length: 9 }, (_, i) => `same-name-${i + 2}`)].sort());
    const explicit = await Promise.allSettled(servers.map((s) => s.createProject({ id: 'contested', name: 'x' })));
    assert.equal(explicit.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = explicit.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.is((refused.reason as StorageError).code, 'PROJECT_EXISTS');
    assert.is((await servers[1]!.listProjects()).filter((p) => p.name === 'Same Name').length, 10);
  } finally {
    for (const s of servers) await s.drain();
  }
}));

function pick<T>(from: readonly T[], count: number): T[] {
  return Array.from({ length: count }, () => from[Math.floor(Math.random() * from.length)]!);
}

test.run();
