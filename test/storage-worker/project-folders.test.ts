/**
 * Claiming a project folder (project.json through the shared publish
 * routine, by link): a claim that fails at any step of writing project.json
 * leaves no temp file behind and no project.json, and a taken id stays taken.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultSpec } from '../../shared/storage-api.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs, type FsSeam } from '../../storage-worker/fs-seam.js';
import { ProjectFolders } from '../../storage-worker/project-folders.js';
import { ProjectRegistry } from '../../storage-worker/project-registry.js';
import { rejection } from '../helpers/storage-errors.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const F = suite<{ dir: string }>('project-folders', { dir: '' });

F.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('folders');
});
F.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

function folders(projectsDir: string, fs: FsSeam = realFs): ProjectFolders {
  return new ProjectFolders(projectsDir, fs, new ProjectRegistry(projectsDir, fs, {}));
}

const steps: Array<{ step: string; fault: FaultSpec }> = [
  { step: 'write', fault: { op: 'write', code: 'ENOSPC', pathIncludes: 'project.json' } },
  { step: 'fsync', fault: { op: 'fsync', code: 'EIO', pathIncludes: 'project.json' } },
  { step: 'link', fault: { op: 'link', code: 'EIO', pathIncludes: 'project.json' } },
];

for (const { step, fault } of steps) {
  F(`a claim failing at the ${step} of project.json is STORAGE_IO and leaves neither a temp file nor project.json`, async ({ dir }) => {
    const projectsDir = join(dir, 'projects');
    const err = await rejection(folders(projectsDir, new FaultyFs(realFs, [fault])).create({ id: 'site', name: 'Site' }));
    assert.is(err.code, 'STORAGE_IO');
    assert.equal(await readdir(join(projectsDir, 'site')), [], 'no temp file, no project.json');
  });
}

F('an id already claimed is PROJECT_EXISTS, and the second claim leaves no temp file', async ({ dir }) => {
  const projectsDir = join(dir, 'projects');
  const made = await folders(projectsDir).create({ id: 'site', name: 'Site' });
  assert.is(made.id, 'site');
  const err = await rejection(folders(projectsDir).create({ id: 'site', name: 'Again' }));
  assert.is(err.code, 'PROJECT_EXISTS');
  const names = await readdir(join(projectsDir, 'site'));
  assert.ok(names.includes('project.json'));
  assert.equal(names.filter((n) => n.includes('.tmp.')), []);
});

F.run();
