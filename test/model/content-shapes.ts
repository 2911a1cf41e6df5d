/**
 * Content the model tests save: editor-shaped pages, global widgets and
 * theme settings whose media references are known in advance. The model
 * never scans content; it takes the referenced paths from here, in the order
 * they appear (values depth-first, in insertion order), which is what the
 * storage's extractor reports.
 */
import { SLOTS, slotPath, variantPath } from './media-slots.js';

/** The spellings of a media path the editor's content really holds. */
export const REF_FORMS = ['plain', 'relative', 'html', 'css', 'absolute', 'encoded', 'api', 'prose'] as const;
export type RefForm = (typeof REF_FORMS)[number];

export interface MediaRef {
  slot: number;
  /** a size-variant label of the slot, or null for the original */
  variant: string | null;
  form: RefForm;
}

/** Strings that look like media paths but are not uses (the model expects no marks from them). */
export const DECOYS = [
  'media-uploads/images/hero.jpg',
  'myuploads/images/logo.png',
  'uploads-images-hero.jpg',
  'see the uploads folder',
] as const;

export function refPath(ref: MediaRef): string {
  const slot = SLOTS[ref.slot % SLOTS.length]!;
  return ref.variant !== null && slot.variants.includes(ref.variant) ? variantPath(slot, ref.variant) : slotPath(slot);
}

/** One string holding exactly one use of `path`, spelled as `form`. */
export function spell(path: string, form: RefForm): string {
  switch (form) {
    case 'plain':
      return path;
    case 'relative':
      return path.slice(1);
    case 'html':
      return `<p>Look: <img src="${path}" alt="a picture"> and more text.</p>`;
    case 'css':
      return `background: url(${path}) no-repeat center`;
    case 'absolute':
      return `https://cdn.example.test${path}?v=3`;
    case 'encoded':
      return `/_next/image?url=${encodeURIComponent(path)}&w=640`;
    case 'api':
      return `/api/media/projects/site${path}`;
    case 'prose':
      return `Download it here: ${path}.`;
  }
}

export interface RenderedContent {
  content: unknown;
  /** every media path the content uses, in document order, deduplicated */
  paths: string[];
}

export type ContentKind = 'page' | 'global' | 'theme';

export function kindOf(source: string): ContentKind {
  if (source === 'global:theme-settings') return 'theme';
  return source.startsWith('global:') ? 'global' : 'page';
}

/**
 * Content for `source` using `refs` (and a decoy or two), marked with
 * `token` so a file found on disk can be traced to the save that wrote it.
 * Keys are never numeric, so insertion order is traversal order.
 */
export function renderContent(source: string, refs: readonly MediaRef[], token: string, decoys: number): RenderedContent {
  const uses = refs.map((ref) => spell(refPath(ref), ref.form));
  const paths = dedupe(refs.map(refPath));
  const decoyTexts = Array.from({ length: decoys }, (_, i) => DECOYS[i % DECOYS.length]!);
  const kind = kindOf(source);
  if (kind === 'theme') {
    const settings: Record<string, unknown> = { token, colors: { primary: '#224466' } };
    uses.forEach((text, i) => (settings[`asset_${i}`] = text));
    decoyTexts.forEach((text, i) => (settings[`note_${i}`] = text));
    return { content: settings, paths };
  }
  const blocks: Record<string, unknown> = {};
  uses.forEach((text, i) => (blocks[`b${i}`] = { type: 'image', settings: { src: text } }));
  decoyTexts.forEach((text, i) => (blocks[`d${i}`] = { type: 'text', settings: { text } }));
  const order = Object.keys(blocks);
  if (kind === 'global') {
    return { content: { type: source.slice('global:'.length), token, settings: { sticky: true }, blocks, blocksOrder: order }, paths };
  }
  return {
    content: {
      name: `Page ${source}`,
      slug: source,
      token,
      widgets: { main: { type: 'section', settings: { title: 'Main' }, blocks, blocksOrder: order } },
      widgetsOrder: ['main'],
      created: '2026-01-05T10:00:00.000Z',
      updated: '2026-01-06T11:30:00.000Z',
    },
    paths,
  };
}

function dedupe(items: readonly string[]): string[] {
  return [...new Set(items)];
}
