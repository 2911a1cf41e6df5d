/**
 * What the commit queue carries: an operation (an intent, applied to a
 * batch's draft) and the little it may ask of the project while it applies.
 */
import type { ContentActions } from './content-actions.js';
import type { ContentScan } from './content-store.js';
import type { DocumentDraft } from './document-draft.js';

/**
 * The project as an operation sees it: its content files, scanned, and
 * whether a scan made outside the lock is still current. Narrow on purpose:
 * an operation cannot reach the queue, the lock or the document file.
 */
export interface OperationContext {
  /** Reads every content file and scans it for media paths (no lock, no queue). */
  scanContent(): Promise<ContentScan>;
  /** Under the lock: whether nothing was committed (by anyone) since `scan` read its generation. */
  isCurrent(scan: ContentScan): boolean;
}

/** A queued operation. `apply` must validate before it mutates the draft, so a failure changes nothing. */
export interface Operation<R> {
  readonly kind: string;
  /** the content source this operation's result depends on, if it writes or removes a content file */
  readonly contentSource?: string;
  apply(draft: DocumentDraft, content: ContentActions, context: OperationContext): R | Promise<R>;
}

/** An operation that changes nothing: queued by a read that must reload what another process committed. */
export const FLUSH: Operation<void> = { kind: 'flush', apply: () => undefined };
