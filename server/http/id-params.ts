/**
 * Every id and name taken from a URL or body is checked against its pattern
 * before it is used for anything (a storage call, a path join). A failure is
 * 400 `INVALID_ID` and names the parameter.
 */
import { FILENAME_PATTERN, ID_PATTERN } from '../../shared/ids.js';
import { HttpError } from './http-error.js';

export const GLOBAL_WIDGET_TYPES = ['header', 'footer'] as const;
export type GlobalWidgetType = (typeof GLOBAL_WIDGET_TYPES)[number];

export function requireId(value: string | undefined, what: string): string {
  if (value === undefined || !ID_PATTERN.test(value)) {
    throw new HttpError(400, 'INVALID_ID', `Expected \`${what}\` to be 1–64 letters, digits, "-" or "_", got ${JSON.stringify(value ?? null)}`, { param: what });
  }
  return value;
}

export function requireFilename(value: string | undefined): string {
  if (value === undefined || !FILENAME_PATTERN.test(value)) {
    throw new HttpError(400, 'INVALID_ID', `Expected \`filename\` to be a plain file name (letters, digits, ".", "_", "-"; no path), got ${JSON.stringify(value ?? null)}`, { param: 'filename' });
  }
  return value;
}

export function requireWidgetType(value: string | undefined): GlobalWidgetType {
  const found = GLOBAL_WIDGET_TYPES.find((t) => t === value);
  if (found === undefined) {
    throw new HttpError(400, 'INVALID_ID', `Expected \`type\` to be one of ${GLOBAL_WIDGET_TYPES.join(', ')}, got ${JSON.stringify(value ?? null)}`, { param: 'type' });
  }
  return found;
}
