/**
 * The PostgreSQL schema, as plain SQL migrations in a TS module (the build
 * needs no copy step). Append only: a released migration is never edited,
 * a change is a new version. `migrate.ts` applies the missing ones in order.
 *
 * Why these shapes:
 * - `media.record` is `json`, not `jsonb`: jsonb refuses strings JavaScript
 *   and the file backend accept (`\u0000`, a lone surrogate a 5000-unit cut
 *   can leave in metadata) and reorders keys; `json` keeps the record's
 *   text exactly (unknown fields and key order included). Nothing queries
 *   inside it: the fields SQL needs are copied into indexed columns.
 * - `media.used_in_key`: a record gains its `usedIn` key the first time
 *   usage touches it and keeps it from then on (the editor's rule); the
 *   sources themselves live only in `usage` rows.
 * - `media_paths`: every path a record serves (its own, each variant's),
 *   with a leading slash, claimed once per project — the unique key is what
 *   refuses a second record with the same path, and the index content saves
 *   match extracted paths through.
 * - `usage.seq`: the order sources were first marked on a file, so `usedIn`
 *   keeps the order the file backend's arrays have.
 * - `content.body` is `text`: the serialised content as saved (jsonb could
 *   not hold every string either).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'projects, media, paths, usage, content',
    sql: `
      CREATE TABLE projects (
        id          text PRIMARY KEY,
        folder      text NOT NULL UNIQUE,
        name        text NOT NULL,
        created_at  timestamptz NOT NULL
      );
      CREATE TABLE media (
        project_id  text   NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        id          text   NOT NULL,
        position    bigint NOT NULL,
        record      json   NOT NULL,
        used_in_key boolean NOT NULL DEFAULT false,
        path        text   NOT NULL,
        type        text   NOT NULL,
        uploaded    text,
        PRIMARY KEY (project_id, id),
        UNIQUE (project_id, position)
      );
      CREATE INDEX media_by_type ON media (project_id, type);
      CREATE INDEX media_by_uploaded ON media (project_id, uploaded);
      CREATE TABLE media_paths (
        project_id  text NOT NULL,
        path        text NOT NULL,
        media_id    text NOT NULL,
        PRIMARY KEY (project_id, path),
        FOREIGN KEY (project_id, media_id) REFERENCES media (project_id, id) ON DELETE CASCADE
      );
      CREATE INDEX media_paths_by_media ON media_paths (project_id, media_id);
      CREATE TABLE usage (
        project_id  text   NOT NULL,
        source      text   NOT NULL,
        media_id    text   NOT NULL,
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (project_id, source, media_id),
        FOREIGN KEY (project_id, media_id) REFERENCES media (project_id, id) ON DELETE CASCADE
      );
      CREATE INDEX usage_by_media ON usage (project_id, media_id, seq);
      CREATE TABLE content (
        project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        source      text NOT NULL,
        body        text NOT NULL,
        PRIMARY KEY (project_id, source)
      );
    `,
  },
  {
    // mediastore migrate / export (storage-worker/migration/): the editor's
    // projects.json entry travels with its project (every field of it, so an
    // export writes it back as it was; NULL: a folder that had no entry), and
    // each imported project remembers the fingerprint of the files it came
    // from, so a second run knows what changed on which side.
    version: 2,
    name: 'registry entries, file migration fingerprints',
    sql: `
      ALTER TABLE projects ADD COLUMN registry_entry json;
      CREATE TABLE file_migrations (
        project_id   text PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        fingerprint  text NOT NULL,
        migrated_at  timestamptz NOT NULL
      );
    `,
  },
];
