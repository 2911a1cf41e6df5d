/**
 * The benchmark workload: one project holding N realistic media records (the
 * editor's shape, ~830 bytes each pretty-printed) and 400 pages; one operation
 * saves a random page's usage as 3 random media paths.
 *
 * Everything is drawn from a seeded generator so every variant starts from the
 * same document and every run from the same data.
 */
import type { MediaDocument, MediaRecord, MediaSizeVariant, NewMediaRecord } from '../shared/media-types.js';

export const PAGE_COUNT = 400;
export const PATHS_PER_OP = 3;

/** A small, fast, seedable PRNG (mulberry32): reproducible workloads without a dependency. */
export function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pageId(i: number): string {
  return `page-${String(i).padStart(3, '0')}`;
}

const WORDS = ['summer', 'team', 'office', 'product', 'hero', 'banner', 'portrait', 'launch', 'studio', 'garden', 'city', 'event'];
const VARIANTS: Array<[name: string, width: number]> = [
  ['thumb', 150],
  ['small', 480],
  ['medium', 1024],
  ['large', 1920],
];

function uuid(rand: () => number): string {
  const hex = (n: number): string =>
    Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(rand() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

/** One image record as the editor's upload handler writes it (usedIn left to the caller). */
export function makeRecord(rand: () => number, index: number): NewMediaRecord {
  const stem = `${pick(rand, WORDS)}-${index}`;
  const filename = `${stem}.jpg`;
  const width = 2000 + Math.floor(rand() * 2000);
  const height = Math.round(width * (0.5 + rand() * 0.3));
  // Originals narrower than 1920 px get no `large` variant.
  const variantCount = rand() < 0.7 ? 3 : 4;
  const sizes: Record<string, MediaSizeVariant> = {};
  for (const [name, w] of VARIANTS.slice(0, variantCount)) {
    const variantFile = `${stem}-${name}.jpg`;
    sizes[name] = {
      path: `/uploads/images/${variantFile}`,
      filename: variantFile,
      width: w,
      height: Math.round((w * height) / width),
      size: Math.round(w * w * 0.05 + rand() * 1000),
    };
  }
  const day = 1 + Math.floor(rand() * 28);
  return {
    id: uuid(rand),
    filename,
    originalName: `IMG_${String(index).padStart(4, '0')}.JPG`,
    type: 'image/jpeg',
    size: 200_000 + Math.floor(rand() * 800_000),
    uploaded: new Date(Date.UTC(2025, 4, day, 9, 30, Math.floor(rand() * 60))).toISOString(),
    path: `/uploads/images/${filename}`,
    metadata: { alt: `${pick(rand, WORDS)} photo` },
    width,
    height,
    sizes,
  };
}

export interface Dataset {
  n: number;
  records: NewMediaRecord[];
  /** every page's usage at the start (PATHS_PER_OP paths each), so documents start in steady state */
  initialUsage: Map<string, string[]>;
}

export function makeDataset(n: number, seed = 42): Dataset {
  const rand = makeRandom(seed + n);
  const records = Array.from({ length: n }, (_, i) => makeRecord(rand, i));
  const initialUsage = new Map<string, string[]>();
  for (let p = 0; p < PAGE_COUNT; p++) initialUsage.set(pageId(p), pickPaths(rand, records));
  return { n, records, initialUsage };
}

/**
 * Distinct random media paths; about one in four is a size variant's path,
 * as when a richtext block embeds a resized image.
 */
export function pickPaths(rand: () => number, records: readonly NewMediaRecord[], count = PATHS_PER_OP): string[] {
  const chosen = new Set<NewMediaRecord>();
  const paths: string[] = [];
  while (paths.length < Math.min(count, records.length)) {
    const record = pick(rand, records);
    if (chosen.has(record)) continue;
    chosen.add(record);
    const variants = Object.values(record.sizes);
    paths.push(rand() < 0.25 && variants.length > 0 ? pick(rand, variants).path : record.path);
  }
  return paths;
}

/** The whole document as the seed stored it: records with `usedIn` filled from the usage map. */
export function makeDocument(dataset: Dataset): MediaDocument {
  const byPath = pathIndex(dataset.records);
  const usedIn = new Map<string, string[]>();
  for (const [source, paths] of dataset.initialUsage) {
    for (const path of paths) {
      const id = byPath.get(path);
      if (id === undefined) continue;
      const list = usedIn.get(id) ?? [];
      if (!list.includes(source)) list.push(source);
      usedIn.set(id, list);
    }
  }
  const files: MediaRecord[] = dataset.records.map((r) => ({ ...r, usedIn: usedIn.get(r.id) ?? [] }));
  return { files };
}

/** media path (original or size variant) → record id */
export function pathIndex(records: readonly NewMediaRecord[]): Map<string, string> {
  const index = new Map<string, string>();
  for (const r of records) {
    index.set(r.path, r.id);
    for (const v of Object.values(r.sizes)) index.set(v.path, r.id);
  }
  return index;
}

/** One operation's input. */
export interface UsageOp {
  pageId: string;
  paths: string[];
}

/** An endless stream of operations for one measurement. */
export function makeOpStream(dataset: Dataset, seed: number): () => UsageOp {
  const rand = makeRandom(seed);
  return () => ({ pageId: pageId(Math.floor(rand() * PAGE_COUNT)), paths: pickPaths(rand, dataset.records) });
}

/**
 * The page JSON the editor saves for an operation (HTTP variant): widgets with
 * settings and blocks, a richtext block and SEO fields, referencing the paths.
 */
export function makePageContent(op: UsageOp): unknown {
  const [a = '', b = '', c = ''] = op.paths;
  return {
    id: op.pageId,
    title: `Page ${op.pageId}`,
    widgets: [
      {
        id: 'w1',
        type: 'hero',
        settings: { heading: 'Welcome to our studio', image: a, overlay: 0.3 },
        blocks: [{ id: 'b1', type: 'button', settings: { label: 'Read more', link: { href: '/about', target: '_self' } } }],
      },
      {
        id: 'w2',
        type: 'richtext',
        settings: {
          html: `<p>We design spaces for people.</p><p><img src="${b}" alt="detail"></p><p>Call us today.</p>`,
        },
        blocks: [],
      },
    ],
    seo: { title: `Page ${op.pageId}`, description: 'A page of the benchmark site.', og_image: c },
  };
}

/** A seeded picker of record ids of a dataset (for usage reads). */
export function randomFileIdOf(dataset: Dataset): () => string {
  const rand = makeRandom(dataset.n);
  return () => (dataset.records[Math.floor(rand() * dataset.records.length)] ?? dataset.records[0])?.id ?? '';
}
