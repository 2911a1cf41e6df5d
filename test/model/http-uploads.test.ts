/**
 * Model-based test through the real HTTP API for uploads: real image bytes
 * posted to a real server on 127.0.0.1 (its StorageClient in this process),
 * mixed with the other commands on the same client. The server names the
 * files and makes their variants; the model takes the records it answered
 * with, and everything after (saves that use them, deletes, refresh, reads)
 * must still match.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import { raster, type RasterFormat } from '../fixtures/media-samples.js';
import { processed, startServer } from '../server/harness.js';
import { httpCommandArb } from './commands.js';
import { initialStateArb } from './initial-states.js';
import type { Outcome } from './library-model.js';
import { SLOTS } from './media-slots.js';
import { assertModel, checkParameters, MODEL_COMMANDS, RunTally } from './model-settings.js';
import { runSequence } from './sequential-run.js';
import { InProcessTarget } from './storage-targets.js';

const HttpUploads = suite('model: uploads over HTTP');

const FORMATS: Readonly<Record<string, RasterFormat>> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };

HttpUploads('sequences with real uploads over HTTP match the model', async () => {
  const server = await startServer('model-http');
  const target = InProcessTarget.wrap(server.storage);
  const tally = new RunTally();
  let project = 0;
  let seed = 0;
  const upload = async (projectId: string, slots: readonly number[]): Promise<Outcome> => {
    const parts = await Promise.all(
      slots.map(async (i) => {
        const slot = SLOTS[i]!;
        const format = FORMATS[slot.type];
        if (!format) throw new Error(`no image format for ${slot.type}`);
        return { filename: slot.filename, data: await raster(format, 600, 400, ++seed), contentType: slot.type };
      }),
    );
    const res = await server.upload(projectId, parts);
    return res.status === 201 ? { ok: true, value: processed(res) } : { ok: false, code: `${res.status} ${String(res.json.code)}` };
  };
  try {
    await assertModel(
      fc.asyncProperty(initialStateArb(['empty']), fc.array(httpCommandArb, { minLength: 1, maxLength: MODEL_COMMANDS, size: 'max' }), async (initial, commands) => {
        await runSequence([target], server.dataDir, `h${++project}`, initial, commands, tally, { upload });
      }),
      checkParameters(),
    );
  } finally {
    console.log(tally.line('uploads over HTTP'));
    await server.close();
  }
});

HttpUploads.run();
