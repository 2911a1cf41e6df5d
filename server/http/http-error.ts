/**
 * Errors the HTTP layer raises itself (bad input, refused requests). Storage
 * failures stay `StorageError`; both are turned into the one response shape
 * `{ error, code, ...extra }` by `errorResponder` (error-responder.ts).
 */

export const HTTP_ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_ID',
  'INVALID_INPUT',
  'PAYLOAD_TOO_LARGE',
  'RANGE_NOT_SATISFIABLE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UPLOAD_REJECTED',
  'NO_FILES',
  'FORBIDDEN_HOST',
  'FORBIDDEN_ORIGIN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
] as const;

export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

export class HttpError extends Error {
  override readonly name = 'HttpError';

  /**
   * @param extra fields merged into the response body (e.g. `rejectedFiles`)
   * @param headers response headers (e.g. `Connection: close` after an oversized body)
   */
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
