/**
 * The baseline: the editor's hand-rolled JSON storage as it was before
 * mediastore. An in-process promise lock per project is held across
 * read file → JSON.parse → modify → JSON.stringify(…, null, 2) → write a
 * unique temp file → rename (retried on transient errors). No fsync: a crash
 * can lose or tear acknowledged writes, which mediastore does not allow.
 */
import { mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { MediaDocument } from '../../shared/media-types.js';
import { mediaFileOf } from '../../shared/project-paths.js';
import { makeDocument, type Dataset, type UsageOp } from '../workload.js';
import type { Target, Variant } from './variant.js';

const RETRYABLE = new Set(['ENOENT', 'EPERM', 'EBUSY', 'EACCES', 'EAGAIN']);
const RENAME_ATTEMPTS = 4;

let tempCounter = 0;

/** The seed's per-project lock: each caller chains onto the previous holder's promise. */
class PromiseLock {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

async function writeJsonAtomic(file: string, doc: MediaDocument): Promise<void> {
  const tmp = `${file}.tmp.${process.pid}.${threadId}.${++tempCounter}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, JSON.stringify(doc, null, 2));
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(tmp, file);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= RENAME_ATTEMPTS || code === undefined || !RETRYABLE.has(code)) {
        // ENOENT here means the temp file is already gone; anything else leaves it behind.
        await unlink(tmp).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        throw err;
      }
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

/** Usage-replace as the seed did it: drop the page from every record, then add it where a path matches. */
function applyUsage(doc: MediaDocument, op: UsageOp): void {
  const wanted = new Set(op.paths);
  for (const file of doc.files) {
    const usedIn = (file.usedIn ??= []);
    const at = usedIn.indexOf(op.pageId);
    if (at !== -1) usedIn.splice(at, 1);
    const matches = wanted.has(file.path) || Object.values(file.sizes).some((v) => wanted.has(v.path));
    if (matches) usedIn.push(op.pageId);
  }
}

export class SeedApproachVariant implements Variant {
  readonly name = 'seed-approach' as const;

  constructor(private readonly baseDir: string) {}

  async prepare(datasets: readonly Dataset[]): Promise<Map<number, Target>> {
    const targets = new Map<number, Target>();
    for (const dataset of datasets) targets.set(dataset.n, await this.prepareOne(dataset));
    return targets;
  }

  private async prepareOne(dataset: Dataset): Promise<Target> {
    const file = mediaFileOf(join(this.baseDir, `seed-${dataset.n}`));
    const dir = dirname(file);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(file, JSON.stringify(makeDocument(dataset), null, 2));
    const lock = new PromiseLock();
    return {
      op: (op) =>
        lock.run(async () => {
          const doc = JSON.parse(await readFile(file, 'utf8')) as MediaDocument;
          applyUsage(doc, op);
          await writeJsonAtomic(file, doc);
        }),
    };
  }

  async close(): Promise<void> {
    // The driver removes the scratch directory; nothing else is held.
  }
}
