/**
 * Validation of media.json as it is loaded from disk (an edge: the file may
 * have been written by an older editor, a script, or a failing disk).
 * A document that fails here is quarantined, never "repaired" to empty.
 */
import { z } from 'zod';
import { StorageError } from '../shared/errors.js';
import type { MediaDocument } from '../shared/media-types.js';
import { MEDIA_FILE } from '../shared/project-paths.js';

// What is refused is only what cannot be a library, or what mediastore reads
// and cannot do without: an id and a path (strings), the fields it reads
// (filename, type, metadata, and every variant's path: usage is matched by
// path), and usedIn as a list of sources when present. Everything else is the
// editor's: optional, kept as it is, byte for byte (`.loose()` keeps unknown
// fields). The editor's variants are `{ path, width, height }`; SVG, video,
// audio and other files have no width/height keys; videos carry
// `thumbnail: null`; a record no usage code touched has no usedIn key.
const sizeVariant = z.object({ path: z.string(), width: z.number().optional(), height: z.number().optional() }).loose();
const metadataText = z.string().optional();
const metadata = z.object({ alt: metadataText, title: metadataText, caption: metadataText, description: metadataText }).loose();

const mediaRecord = z
  .object({
    id: z.string().min(1),
    filename: z.string(),
    type: z.string(),
    path: z.string().min(1),
    metadata,
    sizes: z.record(z.string(), sizeVariant),
    width: z.number().nullable().optional(),
    height: z.number().nullable().optional(),
    thumbnail: z.string().nullable().optional(),
    usedIn: z.array(z.string()).optional(),
  })
  .loose();

const mediaDocument = z.object({ files: z.array(mediaRecord) }).loose();

/** Parse and validate media.json text; throws CORRUPT_DOCUMENT with the first problem. */
export function parseMediaDocument(text: string, file = MEDIA_FILE): MediaDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StorageError('CORRUPT_DOCUMENT', `${file} is not valid JSON: ${(err as Error).message}`, {
      file,
      bytes: text.length,
    });
  }
  const result = mediaDocument.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new StorageError('CORRUPT_DOCUMENT', `${file} failed validation at ${where || '(root)'}: ${issue?.message ?? 'invalid'}`, {
      file,
      path: where,
    });
  }
  // The parsed JSON itself, not zod's output: zod rebuilds objects with the
  // schema's keys first, which would reorder every record's keys and rewrite
  // the editor's bytes on the next write. The schema transforms nothing, so
  // the value it validated is exactly this one.
  const doc = raw as MediaDocument;
  const ids = new Set<string>();
  for (const rec of doc.files) {
    if (ids.has(rec.id)) {
      throw new StorageError('CORRUPT_DOCUMENT', `${file} holds the file id ${rec.id} twice`, { file, id: rec.id });
    }
    ids.add(rec.id);
  }
  return doc;
}

export function serializeMediaDocument(doc: MediaDocument): string {
  // Pretty-printed like the editor always wrote it, so diffs and hand repairs stay readable.
  return JSON.stringify(doc, null, 2);
}

// What mediastore's own upload hands to addMedia: the editor's shape, every field it always writes.
const newSizeVariant = z.object({ path: z.string().min(1), width: z.number(), height: z.number() }).loose();
const newMediaRecord = z
  .object({
    id: z.string().min(1),
    filename: z.string().min(1),
    originalName: z.string(),
    type: z.string(),
    size: z.number().nonnegative(),
    uploaded: z.string(),
    path: z.string().min(1),
    metadata: z.record(z.string(), z.string()),
    width: z.number().nullable().optional(),
    height: z.number().nullable().optional(),
    sizes: z.record(z.string(), newSizeVariant),
    thumbnail: z.string().nullable().optional(),
  })
  .loose();

/** Validates records handed to addMedia. The worker owns `usedIn`: one handed in is dropped (a new record is used nowhere). */
export function parseNewMediaRecords(value: unknown): Array<z.infer<typeof newMediaRecord>> {
  const result = z.array(newMediaRecord).min(1).max(100_000).safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new StorageError('INVALID_INPUT', `Expected media records, got an invalid value at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? ''}`);
  }
  return result.data.map((rec) => {
    if (!('usedIn' in rec)) return rec;
    const { usedIn: _dropped, ...rest } = rec as typeof rec & { usedIn?: unknown };
    return rest;
  });
}
