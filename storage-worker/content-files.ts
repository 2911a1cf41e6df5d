/**
 * Where each usage source keeps its content, and the id rules that make
 * those paths safe: a page `home` → `pages/home.json`, a global widget
 * `global:header` → `pages/global/header.json`, the theme settings
 * `global:theme-settings` → `theme.json`.
 */
import { StorageError } from '../shared/errors.js';
import { ID_PATTERN } from '../shared/ids.js';
import { GLOBAL_PREFIX, THEME_SOURCE, type UsageSource } from '../shared/media-types.js';
import { globalFileOf, pageFileOf, THEME_FILE } from '../shared/project-paths.js';
import { prettyJsonWithin } from './content-serializer.js';

export function assertId(kind: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new StorageError('INVALID_INPUT', `Expected \`${kind}\` to be 1–64 letters, digits, '-' or '_', got ${JSON.stringify(value)}`, {
      field: kind,
    });
  }
}

export function isPageSource(source: UsageSource): boolean {
  return !source.startsWith(GLOBAL_PREFIX);
}

/** Validates a source id and returns the file (relative to the project dir) holding its content. */
export function contentFileOf(source: UsageSource): string {
  if (source === THEME_SOURCE) return THEME_FILE;
  if (source.startsWith(GLOBAL_PREFIX)) {
    const type = source.slice(GLOBAL_PREFIX.length);
    assertId('global widget type', type);
    return globalFileOf(type);
  }
  assertId('pageId', source);
  return pageFileOf(source);
}

/** The inverse of contentFileOf for files found on disk during a full refresh. */
export function sourceOfPageFile(name: string): UsageSource | null {
  if (!name.endsWith('.json')) return null;
  const id = name.slice(0, -'.json'.length);
  return ID_PATTERN.test(id) ? id : null;
}

export function sourceOfGlobalFile(name: string): UsageSource | null {
  const id = sourceOfPageFile(name);
  return id === null ? null : `${GLOBAL_PREFIX}${id}`;
}

/**
 * Content is the editor's JSON; anything that does not survive JSON is
 * refused. The saved form is pretty-printed, with bounded depth and size
 * (see content-serializer.ts for why the native call cannot be used).
 */
export function serializeContent(content: unknown, maxBytes: number): string {
  if (content === undefined || typeof content === 'function' || typeof content === 'symbol') {
    throw new StorageError('INVALID_INPUT', 'Expected content to be a JSON value');
  }
  return prettyJsonWithin(content, maxBytes);
}
