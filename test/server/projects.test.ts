/** Project routes and the health route over HTTP, with response shapes checked field by field. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProjectInfo } from '../../shared/media-types.js';
import { raster } from '../fixtures/media-samples.js';
import { assertError, startServer, type TestServer } from './harness.js';

const Projects = suite('server projects and health');

let server: TestServer;

Projects.before(async () => {
  server = await startServer('projects');
});

Projects.after(async () => {
  await server?.close();
});

function checkProject(p: Record<string, unknown>, id: string, name: string): void {
  assert.equal(Object.keys(p).sort(), ['createdAt', 'folder', 'id', 'name']);
  assert.is(p.id, id);
  assert.is(p.folder, id, 'a project mediastore creates lives in a folder named by its id');
  assert.is(p.name, name);
  assert.is(new Date(String(p.createdAt)).toISOString(), p.createdAt);
}

Projects('create: 201 with the project and its Location; id from the name, unique; explicit id', async () => {
  const a = await server.request('POST', '/api/projects', { json: { name: 'My Site' } });
  assert.is(a.status, 201, a.text);
  checkProject(a.json, 'my-site', 'My Site');
  assert.is(a.headers.location, '/api/projects/my-site');
  const b = await server.request('POST', '/api/projects', { json: { name: 'My Site' } });
  assert.is(b.status, 201);
  assert.is.not(b.json.id, 'my-site');
  assert.match(String(b.json.id), /^my-site-?\w+$/);
  const c = await server.request('POST', '/api/projects', { json: { name: 'Custom', id: 'Custom_ID-1' } });
  assert.is(c.status, 201, c.text);
  checkProject(c.json, 'Custom_ID-1', 'Custom');
  assert.ok(existsSync(join(server.dataDir, 'projects', 'Custom_ID-1')));
});

Projects('create failures: existing id 409, missing/empty/long name 400, bad id 400, bad JSON 400', async () => {
  assertError(await server.request('POST', '/api/projects', { json: { name: 'Again', id: 'my-site' } }), 409, 'PROJECT_EXISTS');
  assertError(await server.request('POST', '/api/projects', { json: {} }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', '/api/projects', { json: { name: '   ' } }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', '/api/projects', { json: { name: 'x'.repeat(201) } }), 400, 'INVALID_INPUT');
  assertError(await server.request('POST', '/api/projects', { json: { name: 7 } }), 400, 'INVALID_INPUT');
  const badId = await server.request('POST', '/api/projects', { json: { name: 'x', id: '../escape' } });
  assertError(badId, 400, 'INVALID_ID');
  assert.is(badId.json.param, 'id');
  assertError(await server.request('POST', '/api/projects', { json: { name: 'x', id: 'a'.repeat(65) } }), 400, 'INVALID_ID');
  assertError(await server.request('POST', '/api/projects', { body: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
  const invalid = await server.request('POST', '/api/projects', { json: { name: 5 } });
  assert.ok(Array.isArray(invalid.json.problems));
  assert.match(String((invalid.json.problems as string[])[0]), /^name: /);
  assert.not.ok(existsSync(join(server.dataDir, 'projects', 'escape')));
});

Projects('list and get', async () => {
  const list = await server.request('GET', '/api/projects');
  assert.is(list.status, 200);
  assert.equal(Object.keys(list.json), ['projects']);
  const projects = list.json.projects as ProjectInfo[];
  assert.ok(projects.length >= 3);
  for (const p of projects) assert.equal(Object.keys(p).sort(), ['createdAt', 'folder', 'id', 'name']);
  assert.ok(projects.some((p) => p.id === 'my-site' && p.name === 'My Site'));
  const one = await server.request('GET', '/api/projects/my-site');
  assert.is(one.status, 200);
  checkProject(one.json, 'my-site', 'My Site');
  assertError(await server.request('GET', '/api/projects/unknown'), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('GET', '/api/projects/not.valid'), 400, 'INVALID_ID');
});

Projects('delete removes the project with its uploads; then 404', async () => {
  const created = await server.createProject('Doomed', 'doomed');
  const up = await server.upload(created.id, [{ filename: 'a.png', data: await raster('png', 200, 100) }]);
  assert.is(up.status, 201, up.text);
  await server.request('POST', '/api/projects/doomed/pages/home/content', { json: { image: '/uploads/images/a.png' } });
  assert.ok(existsSync(join(server.dataDir, 'projects', 'doomed', 'uploads', 'images', 'a.png')));
  const res = await server.request('DELETE', '/api/projects/doomed');
  assert.is(res.status, 200, res.text);
  assert.equal(res.json, { success: true, message: 'Project doomed deleted' });
  assert.not.ok(existsSync(join(server.dataDir, 'projects', 'doomed')));
  assertError(await server.request('GET', '/api/projects/doomed'), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('DELETE', '/api/projects/doomed'), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('GET', '/api/media/projects/doomed/media'), 404, 'PROJECT_NOT_FOUND');
  assertError(await server.request('DELETE', '/api/projects/bad%2Fid'), 400, 'INVALID_ID');
});

Projects('health: status, pid, uptime, storage ping', async () => {
  const res = await server.request('GET', '/health');
  assert.is(res.status, 200);
  assert.equal(Object.keys(res.json).sort(), ['pid', 'status', 'storage', 'uptime']);
  assert.is(res.json.status, 'ok');
  assert.is(res.json.pid, process.pid);
  assert.type(res.json.uptime, 'number');
  assert.ok((res.json.uptime as number) > 0);
  const storage = res.json.storage as Record<string, unknown>;
  assert.equal(Object.keys(storage).sort(), ['ok', 'openProjects', 'pid', 'queueDepth', 'threadId']);
  assert.is(storage.ok, true);
  assert.is(storage.pid, process.pid);
  assert.type(storage.threadId, 'number');
  assert.type(storage.queueDepth, 'number');
});

Projects('media list of a new project is an empty document', async () => {
  await server.createProject('Empty', 'empty');
  const res = await server.request('GET', '/api/media/projects/empty/media');
  assert.is(res.status, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.json, { files: [] });
});

Projects.run();
