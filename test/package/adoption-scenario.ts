/**
 * What every scratch host must be able to do with the installed package,
 * whatever its framework: its own routes beside mediastore's under a prefix,
 * an upload, a page saved by the host's own handler through the typed
 * client, usage read both ways, 409 for deleting a file in use, a
 * StorageError code reaching the host's handler, and a clean close.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { raster } from '../fixtures/media-samples.js';
import type { RunningHost } from './packed-host.js';

interface Uploaded {
  processedFiles: Array<{ id: string; path: string; filename: string }>;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

/** `api`: where the host mounted mediastore, e.g. `/media`. Returns the uploaded file's id. */
export async function hostRoutesAndMediaRoutes(host: RunningHost, api: string, hello: string): Promise<void> {
  const own = await fetch(`${host.base}/hello`);
  assert.is(own.status, 200);
  assert.equal(await json(own), { hello });

  const created = await fetch(`${host.base}${api}/api/projects`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Site', id: 'site' }),
  });
  assert.is(created.status, 201);
  assert.is((await json(created)).id, 'site');
  assert.is(created.headers.get('location'), `${api}/api/projects/site`);

  const health = await fetch(`${host.base}${api}/health`);
  assert.is(health.status, 200);
  assert.is((await json(health)).status, 'ok');

  // A path neither serves is the host's 404, not mediastore's error shape.
  const nowhere = await fetch(`${host.base}/no-such-page`);
  assert.is(nowhere.status, 404);
  await nowhere.arrayBuffer();
}

export async function uploadSaveUsageConflict(host: RunningHost, api: string): Promise<void> {
  const form = new FormData();
  form.append('files', new Blob([new Uint8Array(await raster('png', 32, 24))], { type: 'image/png' }), 'photo.png');
  const uploaded = await fetch(`${host.base}${api}/api/media/projects/site/media`, { method: 'POST', body: form });
  assert.is(uploaded.status, 201);
  const file = ((await uploaded.json()) as Uploaded).processedFiles[0]!;
  assert.match(file.path, /^\/uploads\/images\//);

  // The host's own handler saves a page through media.storage.saveContent.
  const saved = await fetch(`${host.base}/editor/site/pages/home`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ widgets: [{ type: 'hero', settings: { image: file.path } }] }),
  });
  assert.is(saved.status, 200);

  const byHost = await json(await fetch(`${host.base}/editor/site/usage/${file.id}`));
  assert.equal(byHost.usedIn, ['home']);
  assert.is(byHost.isInUse, true);
  const byApi = await json(await fetch(`${host.base}${api}/api/media/projects/site/media/${file.id}/usage`));
  assert.equal(byApi.usedIn, ['home']);

  const refused = await fetch(`${host.base}${api}/api/media/projects/site/media/${file.id}`, { method: 'DELETE' });
  assert.is(refused.status, 409);
  assert.is((await json(refused)).code, 'MEDIA_IN_USE');

  // A StorageError reaches the host's handler as a StorageError with its code.
  const missing = await fetch(`${host.base}/editor/site/usage/00000000-0000-4000-8000-000000000000`);
  assert.is(missing.status, 404);
  assert.equal(await json(missing), { fromHost: true, code: 'MEDIA_NOT_FOUND' });
}

/** Every lock file of the data dir, at any depth. */
export async function lockFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(dataDir, { recursive: true });
  return entries.filter((e) => e.endsWith('.lock')).map((e) => join(dataDir, e));
}
