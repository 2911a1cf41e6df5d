/**
 * The commands of the model tests as plain data (so fast-check prints and
 * shrinks them readably), their generators, and how one becomes a StorageApi
 * call plus the model's expected answer. Records are picked by index into
 * the library as it is when the command runs, so a shrunk sequence stays
 * meaningful.
 */
import fc from 'fast-check';
import { refPath, renderContent, spell, type MediaRef } from './content-shapes.js';
import { mediaRefArb, SOURCES } from './initial-states.js';
import type { LibraryModel, Outcome } from './library-model.js';
import { SLOTS } from './media-slots.js';
import { mediastoreRecord } from './record-shapes.js';

export type Command = { via: 0 | 1 } & (
  | { op: 'add'; slots: number[] }
  /** a real upload through the HTTP API (real image bytes; the server names the files) */
  | { op: 'upload'; slots: number[] }
  /** an upload under a name no content refers to (parallel runs) */
  | { op: 'addFresh' }
  | { op: 'meta'; pick: number; missing: boolean; patch: Record<string, unknown> }
  | { op: 'save'; source: string; refs: MediaRef[]; decoys: number }
  | { op: 'deletePage'; source: string }
  /** usage set by an internal caller, without content (sequential runs only: it may unmark what a page uses, by design) */
  | { op: 'setUsage'; source: string; refs: MediaRef[] }
  | { op: 'delete'; picks: number[]; missing: boolean }
  | { op: 'refresh' }
  | { op: 'read'; what: 'list' | 'get' | 'usage' | 'content' | 'pages'; pick: number; missing: boolean; source: string }
);

export interface Call {
  method: string;
  args: unknown[];
}

/** Slots a real image can be rendered for (sharp writes jpeg, png, webp). */
export const RASTER_SLOTS = SLOTS.flatMap((slot, i) => (slot.raster ? [i] : []));

const viaArb = fc.constantFrom<0 | 1>(0, 1);
const sourceArb = fc.oneof(
  { weight: 25, arbitrary: fc.constantFrom(...SOURCES) },
  // Not a valid source id: refused with INVALID_INPUT, nothing written.
  { weight: 1, arbitrary: fc.constantFrom('../escape', 'global:') },
);
/** Stands for a text longer than the 5000 characters metadata keeps (expanded when the call is made, so counterexamples stay short). */
const LONG_TEXT = '<5003 x>';
const textArb = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'Überschrift — 日本語', LONG_TEXT));

function expandPatch(patch: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, v === LONG_TEXT ? 'x'.repeat(5003) : v]));
}
const patchArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ alt: textArb, title: textArb, caption: textArb, description: textArb }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.constant({ title: 42 }) },
);

const commandArbs = {
  add: fc.record({ op: fc.constant('add' as const), via: viaArb, slots: fc.array(fc.nat({ max: SLOTS.length - 1 }), { minLength: 1, maxLength: 3 }) }),
  upload: fc.record({ op: fc.constant('upload' as const), via: viaArb, slots: fc.array(fc.constantFrom(...RASTER_SLOTS), { minLength: 1, maxLength: 2 }) }),
  addFresh: fc.record({ op: fc.constant('addFresh' as const), via: viaArb }),
  meta: fc.record({ op: fc.constant('meta' as const), via: viaArb, pick: fc.nat(), missing: fc.boolean(), patch: patchArb }),
  save: fc.record({ op: fc.constant('save' as const), via: viaArb, source: sourceArb, refs: fc.array(mediaRefArb, { maxLength: 4 }), decoys: fc.nat({ max: 2 }) }),
  setUsage: fc.record({ op: fc.constant('setUsage' as const), via: viaArb, source: sourceArb, refs: fc.array(mediaRefArb, { maxLength: 3 }) }),
  deletePage: fc.record({ op: fc.constant('deletePage' as const), via: viaArb, source: sourceArb }),
  delete: fc.record({ op: fc.constant('delete' as const), via: viaArb, picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), missing: fc.boolean() }),
  refresh: fc.record({ op: fc.constant('refresh' as const), via: viaArb }),
  read: fc.record({
    op: fc.constant('read' as const),
    via: viaArb,
    what: fc.constantFrom('list' as const, 'get' as const, 'usage' as const, 'content' as const, 'pages' as const),
    pick: fc.nat(),
    missing: fc.boolean(),
    source: sourceArb,
  }),
};

/** Sequential runs: every operation of the API the editor uses. */
export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: commandArbs.save },
  { weight: 3, arbitrary: commandArbs.read },
  { weight: 3, arbitrary: commandArbs.add },
  { weight: 2, arbitrary: commandArbs.meta },
  { weight: 2, arbitrary: commandArbs.delete },
  { weight: 2, arbitrary: commandArbs.deletePage },
  { weight: 1, arbitrary: commandArbs.setUsage },
  { weight: 1, arbitrary: commandArbs.refresh },
);

/** Parallel runs: uploads never collide with or get referenced by content, so every invariant is checkable. */
export const parallelCommandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: commandArbs.save },
  { weight: 2, arbitrary: commandArbs.read },
  { weight: 2, arbitrary: commandArbs.addFresh },
  { weight: 2, arbitrary: commandArbs.meta },
  { weight: 2, arbitrary: commandArbs.delete },
  { weight: 2, arbitrary: commandArbs.deletePage },
  { weight: 1, arbitrary: commandArbs.refresh },
);

/**
 * Runs through the HTTP API: uploads put real binaries beside the records,
 * so records are only ever made by uploads here (a record added without its
 * bytes would let the server claim its file name again).
 */
export const httpCommandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: commandArbs.upload },
  { weight: 4, arbitrary: commandArbs.save },
  { weight: 2, arbitrary: commandArbs.read },
  { weight: 1, arbitrary: commandArbs.meta },
  { weight: 2, arbitrary: commandArbs.delete },
  { weight: 1, arbitrary: commandArbs.deletePage },
  { weight: 1, arbitrary: commandArbs.refresh },
);

/** Per-run counter: ids of uploads and tokens of saves are unique within a project. */
export class RunCounter {
  private n = 0;
  constructor(readonly projectId: string) {}
  next(): number {
    return ++this.n;
  }
}

/** The id a command's pick names: an existing record, or one that never existed. */
function pickId(ids: readonly string[], pick: number, missing: boolean): string {
  return missing || ids.length === 0 ? 'no-such-file' : ids[pick % ids.length]!;
}

/** The call a command makes, given the library's record ids when it runs. */
export function callOf(cmd: Command, ids: readonly string[], counter: RunCounter): Call & { rendered?: ReturnType<typeof renderContent>; paths?: string[] } {
  const p = counter.projectId;
  switch (cmd.op) {
    case 'add':
      return { method: 'addMedia', args: [p, cmd.slots.map((slot) => mediastoreRecord(SLOTS[slot]!, `${p}-up-${counter.next()}`))] };
    case 'upload':
      throw new Error('an upload goes through HTTP, not a StorageApi call (see sequential-run.ts)');
    case 'addFresh': {
      const n = counter.next();
      const rec = mediastoreRecord({ folder: 'images', filename: `fresh-${n}.jpg`, type: 'image/jpeg', raster: true, variants: [] }, `${p}-up-${n}`);
      return { method: 'addMedia', args: [p, [rec]] };
    }
    case 'meta':
      return { method: 'updateMetadata', args: [p, pickId(ids, cmd.pick, cmd.missing), expandPatch(cmd.patch)] };
    case 'save': {
      const rendered = renderContent(cmd.source, cmd.refs, `${p}-save-${counter.next()}`, cmd.decoys);
      return { method: 'saveContent', args: [p, cmd.source, rendered.content], rendered };
    }
    case 'deletePage':
      return { method: 'deleteContent', args: [p, cmd.source] };
    case 'setUsage': {
      const paths = [...new Set(cmd.refs.map(refPath))];
      return { method: 'setUsage', args: [p, cmd.source, cmd.refs.map((ref) => spell(refPath(ref), ref.form))], paths };
    }
    case 'delete': {
      const chosen = cmd.picks.map((pick) => pickId(ids, pick, false));
      return { method: 'deleteMedia', args: [p, cmd.missing ? [...chosen, 'no-such-file'] : chosen] };
    }
    case 'refresh':
      return { method: 'refreshUsage', args: [p] };
    case 'read':
      switch (cmd.what) {
        case 'list':
          return { method: 'listMedia', args: [p] };
        case 'get':
          return { method: 'getMedia', args: [p, pickId(ids, cmd.pick, cmd.missing)] };
        case 'usage':
          return { method: 'usage', args: [p, pickId(ids, cmd.pick, cmd.missing)] };
        case 'content':
          return { method: 'readContent', args: [p, cmd.source] };
        case 'pages':
          return { method: 'listPages', args: [p] };
      }
  }
}

/** Applies a call to the model and returns the answer the real system must give. */
export function expectedOf(model: LibraryModel, call: ReturnType<typeof callOf>): Outcome {
  const a = call.args;
  switch (call.method) {
    case 'addMedia':
      return model.addMedia(a[1] as Parameters<LibraryModel['addMedia']>[0]);
    case 'updateMetadata':
      return model.updateMetadata(a[1] as string, a[2] as Record<string, unknown>);
    case 'saveContent':
      return model.saveContent(a[1] as string, call.rendered!);
    case 'deleteContent':
      return model.deleteContent(a[1] as string);
    case 'setUsage':
      return model.setUsage(a[1] as string, call.paths!);
    case 'deleteMedia':
      return model.deleteMedia(a[1] as string[]);
    case 'refreshUsage':
      return model.refreshUsage();
    case 'listMedia':
      return model.listMedia();
    case 'getMedia':
      return model.getMedia(a[1] as string);
    case 'usage':
      return model.usage(a[1] as string);
    case 'readContent':
      return model.readContent(a[1] as string);
    case 'listPages':
      return model.listPages();
    default:
      throw new Error(`the model does not know ${call.method}`);
  }
}
