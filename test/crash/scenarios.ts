/**
 * The commit scenarios whose crash states are explored. Each has a setup
 * (run on the real file system, not recorded: the state before the crash
 * window, assumed durable) and a recorded part that opens the project the
 * way the storage service does and runs its operations through the real
 * ProjectStore with a RecordingFs. `track` notes, for each operation, the
 * index of the op log at which its promise resolved (its acknowledgment).
 *
 * The store is driven directly (as StorageService does: the same operations
 * from media-operations.ts, the same open-then-reconcile) because the
 * service builds its own file-system seam and has no way to take ours.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { StorageError } from '../../shared/errors.js';
import type { NewMediaRecord } from '../../shared/media-types.js';
import { contentFileOf, serializeContent } from '../../storage-worker/content-files.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import * as ops from '../../storage-worker/media-operations.js';
import { ProjectStore } from '../../storage-worker/project-store.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';
import { WorkerCounters } from '../../storage-worker/worker-counters.js';
import { makeImageRecords } from '../helpers/media-records.js';

export const PROJECT_ID = 'p';

/** What a scenario can do: the storage service's writes, on one project. */
export class ProjectDriver {
  private constructor(readonly store: ProjectStore) {}

  /** Opens like FileBackend does (file-backend.ts): sweep, load (recovering), reconcile usage with content files. */
  static async open(projectDir: string, fs: FsSeam): Promise<ProjectDriver> {
    const store = new ProjectStore(PROJECT_ID, projectDir, {
      fs,
      logger: pino({ level: 'silent' }),
      counters: new WorkerCounters(),
      lockTimeoutMs: 5000,
      staleLockMs: 10_000,
      isThreadAlive: () => true,
    });
    await store.open();
    try {
      await store.enqueue(ops.refreshUsage('withFiles'));
    } catch (err) {
      if (!(err instanceof StorageError && err.code === 'CORRUPT_DOCUMENT')) throw err;
    }
    return new ProjectDriver(store);
  }

  addMedia(records: NewMediaRecord[]): Promise<unknown> {
    return this.store.enqueue(ops.addMedia(records));
  }

  saveContent(source: string, content: unknown): Promise<unknown> {
    contentFileOf(source);
    return this.store.enqueue(ops.saveContent(source, serializeContent(content, 1 << 20), extractMediaPaths(content)));
  }

  /**
   * A save that queues `then`'s operations while its own batch runs, so they
   * form the next batch, already waiting when this one has written its
   * content file: the batch that carries this save's exact marks.
   */
  saveContentThen(source: string, content: unknown, then: () => void): Promise<unknown> {
    const save = ops.saveContent(source, serializeContent(content, 1 << 20), extractMediaPaths(content));
    return this.store.enqueue({
      kind: save.kind,
      contentSource: source,
      async apply(draft, actions, store) {
        const result = await save.apply(draft, actions, store);
        then();
        return result;
      },
    });
  }

  deleteMedia(ids: string[]): Promise<unknown> {
    return this.store.enqueue(ops.deleteMedia(ids));
  }

  deleteContent(source: string): Promise<unknown> {
    return this.store.enqueue(ops.deleteContent(source));
  }

  /** Commits what is pending (usage clean-ups included) and lets go of the lock. */
  close(): Promise<number> {
    return this.store.close();
  }
}

/** A page whose content uses the given media paths, the way the editor stores them. */
export function pageUsing(...paths: string[]): unknown {
  return { title: 'page', blocks: paths.map((src, i) => ({ id: `b${i}`, type: 'image', src })) };
}

/** Fixed records, so every run of a scenario records the same traces. */
const [A, B, C, D] = makeImageRecords(4, 'pic').map((r, i) => ({ ...r, id: `rec-${'ABCD'[i]}`, uploaded: '2026-01-01T00:00:00.000Z' })) as [
  NewMediaRecord,
  NewMediaRecord,
  NewMediaRecord,
  NewMediaRecord,
];

export type Track = (label: string, pending: Promise<unknown>) => Promise<unknown>;

export interface Scenario {
  name: string;
  /** before the recorded window; its end state counts as durable */
  setup(projectDir: string): Promise<void>;
  /** the recorded window: operations through `driver`, each acknowledged through `track` */
  run(driver: ProjectDriver, track: Track): Promise<void>;
  /** long: explored only with CRASH_DEPTH=deep */
  deepOnly?: boolean;
}

/** A library of A, B, C; page `home` uses A (thumb variant), the header uses C. */
async function baseLibrary(projectDir: string): Promise<void> {
  for (const sub of ['uploads/images', 'pages/global']) await mkdir(join(projectDir, sub), { recursive: true });
  const driver = await ProjectDriver.open(projectDir, realFs);
  await driver.addMedia([A, B, C]);
  await driver.saveContent('home', pageUsing(A.sizes.thumb!.path));
  await driver.saveContent('global:header', pageUsing(C.path));
  await driver.close();
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'addMedia into an existing library',
    setup: baseLibrary,
    run: async (driver, track) => {
      await track('addMedia D', driver.addMedia([D]));
    },
  },
  {
    name: 'page save that adds and removes marks (A → B)',
    setup: baseLibrary,
    run: async (driver, track) => {
      await track('saveContent home uses B', driver.saveContent('home', pageUsing(B.path)));
    },
  },
  {
    name: 'deleteMedia of an unused file',
    setup: baseLibrary,
    run: async (driver, track) => {
      await track('deleteMedia B', driver.deleteMedia([B.id]));
    },
  },
  {
    name: 'deleteContent of a page',
    setup: baseLibrary,
    run: async (driver, track) => {
      await track('deleteContent home', driver.deleteContent('home'));
    },
  },
  {
    name: 'one batch mixing them',
    setup: baseLibrary,
    run: async (driver, track) => {
      // Issued in one tick: they share one commit.
      await Promise.all([
        track('addMedia D', driver.addMedia([D])),
        track('saveContent home uses B and D', driver.saveContent('home', pageUsing(B.path, D.sizes.small!.path))),
        track('saveContent about uses A', driver.saveContent('about', pageUsing(A.path))),
        track('deleteContent header', driver.deleteContent('global:header')),
        track('deleteMedia C (in use until the header goes)', driver.deleteMedia([C.id])),
      ]);
      await track('deleteMedia C', driver.deleteMedia([C.id]));
    },
  },
  {
    name: 'a page save whose exact marks ride in the next batch (home A → B; then delete A, header C → B)',
    setup: baseLibrary,
    run: async (driver, track) => {
      let carrier: Array<Promise<unknown>> = [];
      await track(
        'saveContent home uses B (its trim carried)',
        driver.saveContentThen('home', pageUsing(B.path), () => {
          carrier = [
            track('deleteMedia A (unused once the carried trim applies)', driver.deleteMedia([A.id])),
            track('saveContent header uses B (its own trim written alone)', driver.saveContent('global:header', pageUsing(B.path))),
          ];
        }),
      );
      await Promise.all(carrier);
    },
  },
  {
    name: 'first save into a project without page folders (made by the editor before mediastore)',
    setup: async (projectDir) => {
      await mkdir(join(projectDir, 'uploads', 'images'), { recursive: true });
      const driver = await ProjectDriver.open(projectDir, realFs);
      await driver.addMedia([A, B]);
      await driver.close();
    },
    run: async (driver, track) => {
      await track('saveContent footer uses A', driver.saveContent('global:footer', pageUsing(A.path)));
    },
  },
  {
    name: 'recovery: corrupt media.json restored from .bak, then a write',
    setup: async (projectDir) => {
      await baseLibrary(projectDir);
      const driver = await ProjectDriver.open(projectDir, realFs);
      await driver.addMedia([D]); // .bak now holds the A, B, C version
      await driver.close();
      const mediaPath = join(projectDir, 'uploads', 'media.json');
      const text = await readFile(mediaPath);
      await writeFile(mediaPath, text.subarray(0, text.byteLength >> 1)); // torn by some other tool
    },
    run: async (driver, track) => {
      await track('saveContent home uses B', driver.saveContent('home', pageUsing(B.path)));
    },
  },
  {
    name: 'a session of edits one after another',
    deepOnly: true,
    setup: baseLibrary,
    run: async (driver, track) => {
      await track('addMedia D', driver.addMedia([D]));
      await track('saveContent home uses D', driver.saveContent('home', pageUsing(D.sizes.medium!.path)));
      await track('saveContent home uses B and D', driver.saveContent('home', pageUsing(B.path, D.path)));
      await track('deleteMedia A (unused once home moved on)', driver.deleteMedia([A.id]));
      await track('saveContent theme uses C', driver.saveContent('global:theme-settings', { logo: C.path }));
      await track('deleteContent header', driver.deleteContent('global:header'));
      await track('deleteContent home', driver.deleteContent('home'));
      await track('deleteMedia B and D', driver.deleteMedia([B.id, D.id]));
    },
  },
];
