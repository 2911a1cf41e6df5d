/**
 * Model-based test, one process: random command sequences (uploads, metadata,
 * page/global/theme saves, page deletes, single and bulk deletes, refresh,
 * reads) against a StorageClient with its real worker thread on a real temp
 * data dir, compared with the in-memory model after every command. Each
 * fast-check run is a new project in the same data dir; a failure is shrunk
 * to the shortest sequence that still fails.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { commandArb } from './commands.js';
import { initialStateArb, type Shape } from './initial-states.js';
import { assertModel, checkParameters, MODEL_COMMANDS, MODEL_EDITOR_SHAPES, RunTally } from './model-settings.js';
import { runSequence } from './sequential-run.js';
import { InProcessTarget } from './storage-targets.js';

const OneProcess = suite('model: one process');

async function checkShapes(label: string, shapes: readonly Shape[]): Promise<void> {
  const dataDir = await makeTempDir('model-one');
  const target = await InProcessTarget.start(dataDir);
  const tally = new RunTally();
  let project = 0;
  try {
    await assertModel(
      fc.asyncProperty(initialStateArb(shapes), fc.array(commandArb, { minLength: 1, maxLength: MODEL_COMMANDS, size: 'max' }), async (initial, commands) => {
        await runSequence([target], dataDir, `p${++project}`, initial, commands, tally);
      }),
      checkParameters(),
    );
  } finally {
    console.log(tally.line(`one process, ${label}`));
    await target.close();
    await removeTempDir(dataDir);
  }
}

OneProcess('sequences from empty and mediastore-written libraries match the model', async () => {
  await checkShapes('empty and mediastore libraries', ['empty', 'mediastore']);
});

if (MODEL_EDITOR_SHAPES) {
  OneProcess("sequences from the editor's own libraries match the model", async () => {
    await checkShapes("editor's libraries", ['editor']);
  });
}

OneProcess.run();
