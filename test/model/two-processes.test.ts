/**
 * Model-based tests, two processes sharing one data dir, each a child with
 * its own StorageClient (its own storage worker): an old and a new server
 * during a hot reload, or a server and a script.
 * - sequential: each command runs on the process it names and is awaited
 *   before the next, so every answer, and the library as BOTH processes read
 *   it, must equal the model's ("exact usage at acknowledgment, as every
 *   process sees it");
 * - parallel: a few commands at once across the two processes, then only the
 *   invariants, read from the bytes on disk (parallel-run.ts).
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { commandArb, parallelCommandArb } from './commands.js';
import { initialStateArb, type Shape } from './initial-states.js';
import { assertModel, checkParameters, MODEL_COMMANDS, MODEL_EDITOR_SHAPES, RunTally } from './model-settings.js';
import { runParallel } from './parallel-run.js';
import { runSequence } from './sequential-run.js';
import { ChildTarget, type StorageTarget } from './storage-targets.js';

interface Context {
  dataDir: string;
  targets: StorageTarget[];
  project: number;
}

const TwoProcesses = suite<Context>('model: two processes', { dataDir: '', targets: [], project: 0 });

TwoProcesses.before(async (ctx) => {
  ctx.dataDir = await makeTempDir('model-two');
  // One after the other, each kept as soon as it runs: `after` then ends every child that started.
  ctx.targets.push(await ChildTarget.start(ctx.dataDir, 'process A'));
  ctx.targets.push(await ChildTarget.start(ctx.dataDir, 'process B'));
});

TwoProcesses.after(async (ctx) => {
  await Promise.all(ctx.targets.map((t) => t.close()));
  await removeTempDir(ctx.dataDir);
});

async function checkSequential(ctx: Context, label: string, shapes: readonly Shape[], readAfterEachStep = true): Promise<void> {
  const tally = new RunTally();
  try {
    await assertModel(
      fc.asyncProperty(initialStateArb(shapes), fc.array(commandArb, { minLength: 1, maxLength: MODEL_COMMANDS, size: 'max' }), async (initial, commands) => {
        await runSequence(ctx.targets, ctx.dataDir, `s${++ctx.project}`, initial, commands, tally, { readAfterEachStep });
      }),
      checkParameters(),
    );
  } finally {
    console.log(tally.line(`two processes, sequential, ${label}`));
  }
}

TwoProcesses('sequential commands on either process match the model, as both processes read it', async (ctx) => {
  await checkSequential(ctx, 'empty and mediastore libraries', ['empty', 'mediastore']);
});

TwoProcesses('sequential commands match the model when the library is read only by the commands themselves', async (ctx) => {
  await checkSequential(ctx, 'reads only by commands', ['empty', 'mediastore'], false);
});

if (MODEL_EDITOR_SHAPES) {
  TwoProcesses("sequential commands on the editor's own libraries match the model, as both processes read it", async (ctx) => {
    await checkSequential(ctx, "editor's libraries", ['editor']);
  });
}

async function checkParallel(ctx: Context, label: string, shapes: readonly Shape[]): Promise<void> {
  const tally = new RunTally();
  try {
    await assertModel(
      fc.asyncProperty(initialStateArb(shapes), fc.array(parallelCommandArb, { minLength: 2, maxLength: 8 }), async (initial, batch) => {
        await runParallel(ctx.targets, ctx.dataDir, `q${++ctx.project}`, initial, batch, tally);
      }),
      checkParameters(),
    );
  } finally {
    console.log(tally.line(`two processes, parallel, ${label}`));
  }
}

TwoProcesses('commands in parallel on both processes keep media.json valid, usage never under-marked, nothing acknowledged lost', async (ctx) => {
  await checkParallel(ctx, 'mediastore libraries', ['mediastore']);
});

if (MODEL_EDITOR_SHAPES) {
  TwoProcesses("commands in parallel on the editor's own libraries keep the same invariants", async (ctx) => {
    await checkParallel(ctx, "editor's libraries", ['editor']);
  });
}

TwoProcesses.run();
