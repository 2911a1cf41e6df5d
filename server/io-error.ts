/**
 * Wraps a file-system failure of the server's own binary handling (uploads,
 * variant writes) as `STORAGE_IO` with the errno in `details`, so the error
 * responder can answer 507 for a full disk and 503 otherwise, like failures
 * inside the storage worker.
 */
import { StorageError } from '../shared/errors.js';
import { errnoCode } from '../shared/errno.js';

export function ioError(err: unknown, doing: string): StorageError {
  if (err instanceof StorageError) return err;
  const errno = errnoCode(err);
  return new StorageError('STORAGE_IO', `${doing} failed${errno ? ` (${errno})` : ''}`, errno ? { errno } : undefined, { cause: err });
}
