/**
 * The SQLite baseline (better-sqlite3, WAL): media rows, a path index covering
 * every size variant, and usage rows; one transaction per operation. Run with
 * `synchronous=FULL` (every commit fsynced, as durable as mediastore) and with
 * `NORMAL` (WAL fsynced only at checkpoints: a power loss can drop the last
 * commits, but never corrupts the database).
 *
 * better-sqlite3 is synchronous, so the "server" runs on the driver's thread;
 * concurrent operations simply queue behind each other, as they would in a
 * single-threaded Node server using it.
 */
import Database from 'better-sqlite3';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset, UsageOp } from '../workload.js';
import type { Target, Variant } from './variant.js';

export type SqliteSync = 'FULL' | 'NORMAL';

const SCHEMA = `
  CREATE TABLE media (
    id TEXT PRIMARY KEY, filename TEXT NOT NULL, original_name TEXT NOT NULL, type TEXT NOT NULL,
    size INTEGER NOT NULL, uploaded TEXT NOT NULL, path TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL,
    width INTEGER, height INTEGER, sizes TEXT NOT NULL
  );
  CREATE TABLE media_path (path TEXT PRIMARY KEY, media_id TEXT NOT NULL REFERENCES media(id)) WITHOUT ROWID;
  CREATE TABLE usage (
    source TEXT NOT NULL, media_id TEXT NOT NULL REFERENCES media(id), PRIMARY KEY (source, media_id)
  ) WITHOUT ROWID;
  CREATE INDEX usage_by_media ON usage(media_id, source);
`;

export class SqliteVariant implements Variant {
  readonly name: 'sqlite-full' | 'sqlite-normal';

  constructor(
    private readonly baseDir: string,
    private readonly sync: SqliteSync,
  ) {
    this.name = sync === 'FULL' ? 'sqlite-full' : 'sqlite-normal';
  }

  private readonly open: Database.Database[] = [];

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    const targets = new Map<number, Target>();
    for (const dataset of datasets) targets.set(dataset.n, await this.prepareOne(dataset));
    return targets;
  }

  private async prepareOne(dataset: Dataset): Promise<Target> {
    const dir = join(this.baseDir, `${this.name}-${dataset.n}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const db = new Database(join(dir, 'media.db'));
    this.open.push(db);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.sync}`);
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);

    const insertMedia = db.prepare(
      `INSERT INTO media (id, filename, original_name, type, size, uploaded, path, metadata, width, height, sizes)
       VALUES (@id, @filename, @originalName, @type, @size, @uploaded, @path, @metadata, @width, @height, @sizes)`,
    );
    const insertPath = db.prepare('INSERT INTO media_path (path, media_id) VALUES (?, ?)');
    const findByPath = db.prepare<[string], { media_id: string }>('SELECT media_id FROM media_path WHERE path = ?');
    const clearUsage = db.prepare('DELETE FROM usage WHERE source = ?');
    const addUsage = db.prepare('INSERT OR IGNORE INTO usage (source, media_id) VALUES (?, ?)');

    const setUsage = db.transaction((op: UsageOp) => {
      clearUsage.run(op.pageId);
      for (const path of op.paths) {
        const row = findByPath.get(path);
        if (row) addUsage.run(op.pageId, row.media_id);
      }
    });

    db.transaction(() => {
      for (const r of dataset.records) {
        insertMedia.run({ ...r, metadata: JSON.stringify(r.metadata), sizes: JSON.stringify(r.sizes) });
        insertPath.run(r.path, r.id);
        for (const v of Object.values(r.sizes)) insertPath.run(v.path, r.id);
      }
    })();
    for (const [pageId, paths] of dataset.initialUsage) setUsage({ pageId, paths });
    db.pragma('wal_checkpoint(TRUNCATE)');

    return {
      op: async (op) => {
        setUsage(op);
      },
    };
  }

  async close(): Promise<void> {
    for (const db of this.open.splice(0)) db.close();
  }
}
