/**
 * Initial states of a project for the model tests, and how they are put on
 * disk: written with plain fs the way their writer would have left them,
 * never through mediastore. Three shapes: an empty new project, a library
 * mediastore wrote (usage possibly stale: over-marks, sources without
 * content), and a library the editor wrote before mediastore existed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { kindOf, renderContent, REF_FORMS, type MediaRef, type RenderedContent } from './content-shapes.js';
import { SLOTS } from './media-slots.js';
import { editorRecord, mediastoreRecord } from './record-shapes.js';

export const PAGE_SOURCES = ['home', 'about', 'blog-post', 'contact'] as const;
export const GLOBAL_SOURCES = ['global:header', 'global:footer', 'global:theme-settings'] as const;
export const SOURCES = [...PAGE_SOURCES, ...GLOBAL_SOURCES] as const;
/** sources that may appear in an old library's usedIn without having content */
const STALE_SOURCES = ['old-page', 'global:sidebar'] as const;

export type Shape = 'empty' | 'mediastore' | 'editor';

export interface InitialRecord {
  slot: number;
  /** usedIn as written (null: the key is absent, editor shape only) */
  usedIn: string[] | null;
  extraField: boolean;
}

export interface InitialContent {
  source: string;
  refs: MediaRef[];
  decoys: number;
}

export interface InitialState {
  shape: Shape;
  records: InitialRecord[];
  content: InitialContent[];
}

export const mediaRefArb: fc.Arbitrary<MediaRef> = fc.record({
  slot: fc.nat({ max: SLOTS.length - 1 }),
  variant: fc.option(fc.constantFrom('thumb', 'small', 'medium'), { nil: null }),
  form: fc.constantFrom(...REF_FORMS),
});

const contentArb: fc.Arbitrary<InitialContent[]> = fc.uniqueArray(
  fc.record({ source: fc.constantFrom(...SOURCES), refs: fc.array(mediaRefArb, { maxLength: 4 }), decoys: fc.nat({ max: 2 }) }),
  { selector: (c) => c.source, maxLength: 4 },
);

function recordsArb(withAbsentUsage: boolean): fc.Arbitrary<InitialRecord[]> {
  const usedIn = fc.subarray([...SOURCES, ...STALE_SOURCES], { maxLength: 3 });
  return fc.uniqueArray(
    fc.record({
      slot: fc.nat({ max: SLOTS.length - 1 }),
      usedIn: withAbsentUsage ? fc.option(usedIn, { nil: null }) : usedIn,
      extraField: withAbsentUsage ? fc.boolean() : fc.constant(false),
    }),
    { selector: (r) => r.slot, maxLength: 6 },
  );
}

/** Initial states of the given shapes. */
export function initialStateArb(shapes: readonly Shape[]): fc.Arbitrary<InitialState> {
  const byShape: Record<Shape, fc.Arbitrary<InitialState>> = {
    empty: fc.constant<InitialState>({ shape: 'empty', records: [], content: [] }),
    mediastore: fc.record({ shape: fc.constant<Shape>('mediastore'), records: recordsArb(false), content: contentArb }),
    editor: fc.record({ shape: fc.constant<Shape>('editor'), records: recordsArb(true), content: contentArb }),
  };
  return fc.oneof(...shapes.map((shape) => byShape[shape]));
}

/** A stable uuid per slot: ids of an initial library (the editor's are uuids). */
export function initialId(slot: number): string {
  return `0b5e7a1c-2d3f-4a5b-8c6d-${String(slot).padStart(12, '0')}`;
}

export interface MaterialisedState {
  records: Array<Record<string, unknown> & { id: string }>;
  content: Array<[string, RenderedContent]>;
}

export function materialise(state: InitialState): MaterialisedState {
  const records = state.records.map((r) =>
    state.shape === 'editor'
      ? editorRecord(SLOTS[r.slot]!, initialId(r.slot), { usedIn: r.usedIn, extraField: r.extraField })
      : { ...mediastoreRecord(SLOTS[r.slot]!, initialId(r.slot)), usedIn: r.usedIn ?? [] },
  );
  const content = state.content.map((c, i): [string, RenderedContent] => [c.source, renderContent(c.source, c.refs, `init-${i}`, c.decoys)]);
  return { records, content };
}

/** Where a source's content lives inside a project folder. */
export function contentFile(projectDir: string, source: string): string {
  const kind = kindOf(source);
  if (kind === 'theme') return join(projectDir, 'theme.json');
  if (kind === 'global') return join(projectDir, 'pages', 'global', `${source.slice('global:'.length)}.json`);
  return join(projectDir, 'pages', `${source}.json`);
}

export function projectDirOf(dataDir: string, projectId: string): string {
  return join(dataDir, 'projects', projectId);
}

export function mediaJsonOf(dataDir: string, projectId: string): string {
  return join(projectDirOf(dataDir, projectId), 'uploads', 'media.json');
}

/** Writes the project as its writer left it: mediastore projects have project.json, the editor's do not. */
export async function writeInitialState(dataDir: string, projectId: string, shape: Shape, state: MaterialisedState): Promise<void> {
  const dir = projectDirOf(dataDir, projectId);
  for (const sub of ['uploads/images', 'uploads/videos', 'uploads/audios', 'uploads/files', 'pages/global']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  if (shape !== 'editor') {
    await writeFile(join(dir, 'project.json'), JSON.stringify({ id: projectId, name: `Model ${projectId}`, createdAt: '2026-01-01T00:00:00.000Z' }, null, 2));
  }
  await writeFile(mediaJsonOf(dataDir, projectId), JSON.stringify({ files: state.records }, null, 2));
  for (const [source, rendered] of state.content) {
    await writeFile(contentFile(dir, source), JSON.stringify(rendered.content, null, 2));
  }
}
