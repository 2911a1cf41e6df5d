/**
 * The one error type of mediastore. It crosses the worker-thread boundary as a
 * plain `WireError` and is rebuilt on the other side, so callers can always
 * branch on `code` (never on message text) and never see a bare `Error`.
 */

export const STORAGE_ERROR_CODES = [
  'PROJECT_NOT_FOUND',
  'PROJECT_EXISTS',
  'MEDIA_NOT_FOUND',
  'PAGE_NOT_FOUND',
  'MEDIA_IN_USE',
  'INVALID_INPUT',
  'TOO_DEEP',
  'CONTENT_TOO_LARGE',
  'CORRUPT_DOCUMENT',
  'LOCK_TIMEOUT',
  // The lock was taken from this process while it held it: nothing of the
  // batch was acknowledged (its first commit may be on disk, unconfirmed).
  'LOCK_LOST',
  'STORAGE_IO',
  'STORAGE_UNAVAILABLE',
  'INTERNAL',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** JSON-safe details; kept small and free of paths outside the data dir where possible. */
export type ErrorDetails = Record<string, unknown>;

/** The structured-clone-safe form of a StorageError. */
export interface WireError {
  readonly code: StorageErrorCode;
  readonly message: string;
  readonly details?: ErrorDetails;
  readonly stack?: string;
}

export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: StorageErrorCode, message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  toWire(): WireError {
    const wire: { -readonly [K in keyof WireError]: WireError[K] } = { code: this.code, message: this.message };
    if (this.details !== undefined) wire.details = this.details;
    if (this.stack !== undefined) wire.stack = this.stack;
    return wire;
  }

  /**
   * Rebuild an error that crossed a thread boundary. The remote stack is kept
   * below the local one so a failure can be traced on both sides of the call.
   */
  static fromWire(wire: WireError): StorageError {
    const err = new StorageError(wire.code, wire.message, wire.details);
    if (wire.stack) err.stack = `${err.stack ?? ''}\n    --- in storage worker ---\n${wire.stack}`;
    return err;
  }

  /** Wrap anything thrown into a StorageError; StorageErrors pass through unchanged. */
  static from(err: unknown, fallback: StorageErrorCode = 'INTERNAL'): StorageError {
    if (err instanceof StorageError) return err;
    if (isWireError(err)) return StorageError.fromWire(err);
    const message = err instanceof Error ? err.message : String(err);
    // A Node system error keeps its errno code (ENOSPC → 507 at the HTTP edge).
    const errno = typeof err === 'object' && err !== null ? (err as { code?: unknown; syscall?: unknown }) : {};
    const details =
      typeof errno.code === 'string'
        ? { errno: errno.code, ...(typeof errno.syscall === 'string' ? { op: errno.syscall } : {}) }
        : undefined;
    const wrapped = new StorageError(fallback, message, details, { cause: err });
    if (err instanceof Error && err.stack) wrapped.stack = err.stack;
    return wrapped;
  }
}

export function isStorageErrorCode(value: unknown): value is StorageErrorCode {
  return typeof value === 'string' && (STORAGE_ERROR_CODES as readonly string[]).includes(value);
}

export function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return isStorageErrorCode(v.code) && typeof v.message === 'string';
}
