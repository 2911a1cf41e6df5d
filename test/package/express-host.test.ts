/**
 * An Express host (the editor's server is one) adopts the packed package:
 * npm pack, npm install of the tarball with express into a scratch project,
 * a strict TypeScript host compiled against the declarations
 * (test/package/hosts/express-host.ts), mediastore mounted with
 * `app.use('/media', toExpress(media.api()))` before the host's body parser.
 * Pack, install and compile happen once for the file.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { hostRoutesAndMediaRoutes, lockFiles, uploadSaveUsageConflict } from './adoption-scenario.js';
import { compileHost, installHost, packInto, startHost, stopHost, type RunningHost } from './packed-host.js';

const E = suite('an Express host installs and mounts the packed package');

let scratch: string;
let dataDir: string;
let compiled: { ourErrors: string[] };
let host: RunningHost | undefined;

E.before(async () => {
  scratch = await makeTempDir('express-host');
  const tarball = await packInto(scratch);
  const hostDir = join(scratch, 'host');
  await mkdir(hostDir);
  await installHost(hostDir, tarball, ['express', 'pino', '@types/express', '@types/koa', '@types/node@^20']);
  compiled = await compileHost(hostDir, 'express-host');
  dataDir = join(scratch, 'data');
  await mkdir(dataDir);
  host = await startHost(hostDir, 'express-host', dataDir);
});

E.after(async () => {
  if (host) await stopHost(host);
  await removeTempDir(scratch);
});

E('the strict TypeScript host type-checks against the declarations', () => {
  assert.equal(compiled.ourErrors, []);
});

E('the host’s routes and the media API under /media both answer', async () => {
  await hostRoutesAndMediaRoutes(host!, '/media', 'from the express host');
});

E('a path under /media that mediastore does not serve falls through to the host’s route', async () => {
  const res = await fetch(`${host!.base}/media/host-note`);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { note: 'a host route under the same prefix' });
});

E('upload, a page saved by the host’s handler (after express.json), usage, 409 for a file in use', async () => {
  await uploadSaveUsageConflict(host!, '/media');
});

E('SIGTERM: the host closes mediastore, which drains and releases every lock', async () => {
  const code = await stopHost(host!);
  assert.is(code, 0);
  assert.ok(host!.lines.some((l) => typeof l === 'object' && l !== null && 'closed' in l), 'no closed line');
  assert.equal(await lockFiles(dataDir), []);
  host = undefined;
});

E.run();
