/** Content saves as StorageService hands them to a backend: serialised content and the media paths extraction found in it. */
import type { MediaLibrary } from '../../storage-worker/library-backend.js';
import { extractMediaPaths } from '../../storage-worker/usage-extraction.js';

export function saveContent(lib: MediaLibrary, source: string, content: unknown) {
  return lib.saveContent(source, JSON.stringify(content, null, 2), extractMediaPaths(content));
}

/** A record's `usedIn` as answered (absent → []). */
export async function usedIn(lib: MediaLibrary, fileId: string): Promise<string[]> {
  return [...((await lib.getMedia(fileId)).usedIn ?? [])];
}
