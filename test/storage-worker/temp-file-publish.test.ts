import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FaultSpec } from '../../shared/storage-api.js';
import { FaultyFs } from '../../storage-worker/fault-injection.js';
import { realFs, type FsFile, type FsSeam } from '../../storage-worker/fs-seam.js';
import { publishFile, type PublishStep } from '../../storage-worker/temp-file-publish.js';
import { parseTempName } from '../../storage-worker/temp-file-name.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const P = suite<{ dir: string; target: string }>('temp-file-publish', { dir: '', target: '' });

P.before.each(async (ctx) => {
  ctx.dir = await makeTempDir('publish');
  ctx.target = join(ctx.dir, 'target.json');
});
P.after.each(async (ctx) => {
  await removeTempDir(ctx.dir);
});

const OLD = 'old content, long enough to tell a mix apart';
const NEW = 'new content, different in length and bytes: ' + 'x'.repeat(4096);

async function tempFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => parseTempName(name) !== null);
}

async function contentOf(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Every step of the routine, with the fault that fails it (the directory fsync is picked by its path, set per test). */
function stepFaults(): Array<{ step: string; fault: FaultSpec; publishedAlready: boolean }> {
  return [
    { step: 'open-temp', fault: { op: 'open', code: 'EROFS', pathIncludes: '.tmp.' }, publishedAlready: false },
    { step: 'write-temp', fault: { op: 'write', code: 'ENOSPC' }, publishedAlready: false },
    { step: 'fsync-temp', fault: { op: 'fsync', code: 'EIO', pathIncludes: '.tmp.' }, publishedAlready: false },
    { step: 'close-temp', fault: { op: 'close', code: 'EIO', pathIncludes: '.tmp.' }, publishedAlready: false },
    { step: 'publish (rename)', fault: { op: 'rename', code: 'EIO' }, publishedAlready: false },
    { step: 'publish (link)', fault: { op: 'link', code: 'EIO' }, publishedAlready: false },
    { step: 'fsync-dir', fault: { op: 'fsync', code: 'EIO', pathEndsWith: '<the dir>' }, publishedAlready: true },
  ];
}

for (const by of ['rename', 'link'] as const) {
  for (const { step, fault, publishedAlready } of stepFaults()) {
    if (step === 'publish (rename)' && by === 'link') continue;
    if (step === 'publish (link)' && by === 'rename') continue;
    P(`by ${by}: a fault at ${step} fails the publish, leaves no temp, and the target is old or new, never half`, async ({ dir, target }) => {
      // A link only publishes onto a free name: there the "old" state is no file.
      if (by === 'rename') await writeFile(target, OLD);
      const old = by === 'rename' ? OLD : null;
      const faulted = { ...fault };
      if (faulted.pathEndsWith !== undefined) faulted.pathEndsWith = basename(dir);
      const fs = new FaultyFs(realFs, [faulted]);
      try {
        await publishFile(fs, target, NEW, { by, syncDirectory: true });
        assert.unreachable(`the ${step} fault must fail the publish`);
      } catch (err) {
        assert.is((err as { code?: string }).code, fault.code);
        assert.ok((err as { injected?: boolean }).injected, 'the injected error, not another one');
      }
      assert.equal(await tempFilesIn(dir), [], 'the temp file is gone');
      assert.is(await contentOf(target), publishedAlready ? NEW : old);
    });
  }
}

P('beforePublish runs after the temp is complete; its throw publishes nothing and removes the temp', async ({ dir, target }) => {
  await writeFile(target, OLD);
  const steps: PublishStep[] = [];
  let tempsWhenAsked: string[] = [];
  try {
    await publishFile(realFs, target, NEW, {
      by: 'rename',
      onStep: (s) => steps.push(s),
      beforePublish: async () => {
        tempsWhenAsked = await tempFilesIn(dir);
        throw new Error('fenced');
      },
    });
    assert.unreachable('the fence threw');
  } catch (err) {
    assert.is((err as Error).message, 'fenced');
  }
  assert.is(tempsWhenAsked.length, 1, 'the temp existed when the fence ran');
  assert.equal(steps, ['open-temp', 'write-temp', 'fsync-temp', 'close-temp'], 'the fence ran after close, before publish');
  assert.equal(await tempFilesIn(dir), []);
  assert.is(await contentOf(target), OLD);
});

P('by link: an existing target is "taken" and stays untouched; a free one is published; no temp either way', async ({ dir, target }) => {
  await writeFile(target, OLD);
  assert.is(await publishFile(realFs, target, NEW, { by: 'link' }), 'taken');
  assert.is(await contentOf(target), OLD);
  assert.equal(await tempFilesIn(dir), []);
  const free = join(dir, 'free.json');
  assert.is(await publishFile(realFs, free, NEW, { by: 'link' }), 'published');
  assert.is(await contentOf(free), NEW);
  assert.equal(await tempFilesIn(dir), [], 'the temp link was removed after the link');
});

P('the temp is fsynced before it is published, by rename and by link (a power cut keeps a name only with its bytes)', async ({ dir }) => {
  for (const by of ['rename', 'link'] as const) {
    const ops: string[] = [];
    const recording = recordingFs(ops);
    await publishFile(recording, join(dir, `${by}.json`), NEW, { by });
    const fsyncAt = ops.indexOf('fsync .tmp.');
    const publishAt = ops.indexOf(by);
    assert.ok(fsyncAt !== -1, `by ${by}: the temp was fsynced (${ops.join(', ')})`);
    assert.ok(fsyncAt < publishAt, `by ${by}: fsync before ${by} (${ops.join(', ')})`);
  }
  // ...unless the caller says the file need not survive a power cut (the generation nonce).
  const ops: string[] = [];
  await publishFile(recordingFs(ops), join(dir, 'nonce'), 'n', { by: 'rename', syncTemp: false });
  assert.not.ok(ops.includes('fsync .tmp.'), 'syncTemp: false skips the fsync');
});

P('a temp that cannot be removed after a link is reported through onCleanupError, and the publish stands', async ({ dir, target }) => {
  const fs = new FaultyFs(realFs, [{ op: 'unlink', code: 'EIO', pathIncludes: '.tmp.', times: 1 }]);
  const reported: string[] = [];
  const result = await publishFile(fs, target, NEW, { by: 'link', onCleanupError: (_err, temp) => reported.push(basename(temp)) });
  assert.is(result, 'published');
  assert.is(await contentOf(target), NEW);
  assert.equal(reported, await tempFilesIn(dir), 'the one temp left is the one reported');
  assert.is(reported.length, 1);
});

/** The real file system, logging each open/fsync/rename/link (an fsync names whether it was of a temp). */
function recordingFs(ops: string[]): FsSeam {
  return {
    ...realFs,
    async open(path, flags, mode) {
      const file = await realFs.open(path, flags, mode);
      const wrapped: FsFile = {
        fd: file.fd,
        writeAll: (data) => file.writeAll(data),
        sync: async () => {
          ops.push(path.includes('.tmp.') ? 'fsync .tmp.' : 'fsync');
          await file.sync();
        },
        stat: () => file.stat(),
        close: () => file.close(),
      };
      return wrapped;
    },
    rename: async (from, to) => {
      ops.push('rename');
      await realFs.rename(from, to);
    },
    link: async (from, to) => {
      ops.push('link');
      await realFs.link(from, to);
    },
  };
}

P.run();
