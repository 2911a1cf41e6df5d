/**
 * One sequential model run: put an initial state on disk, open it from every
 * target, then run the commands one at a time, each on the target it names.
 * After every command: its answer equals the model's, every target's
 * library equals the model's (the targets that did not run the command are
 * asked first: "exact usage at acknowledgment, as every process sees it"),
 * and so do the bytes of media.json on disk.
 *
 * Those reads are not neutral: a read makes a process finish deferred work
 * (trimming old marks) and reload what the other one wrote. With
 * `readAfterEachStep: false` the library is compared only at the end, so the
 * commands meet each other's deferred state as a real editor session would.
 */
import { readFile } from 'node:fs/promises';
import { assertSameOutcome } from './answer-compare.js';
import { callOf, expectedOf, RunCounter, type Command } from './commands.js';
import { mediaJsonOf, type InitialState } from './initial-states.js';
import { LibraryModel, type NewModelRecord, type Outcome } from './library-model.js';
import type { RunTally } from './model-settings.js';
import type { StorageTarget } from './storage-targets.js';
import { startRun } from './run-start.js';

export interface SequenceOptions {
  /** compare the library after every command (default), or only at the end */
  readAfterEachStep?: boolean;
  /** performs an `upload` command (HTTP runs): the records the server answered with, or the refusal */
  upload?: (projectId: string, slots: readonly number[]) => Promise<Outcome>;
}

/** The calls that write (each reconciles the project's usage first, once per process). */
const WRITE_METHODS = new Set(['addMedia', 'updateMetadata', 'deleteMedia', 'saveContent', 'deleteContent', 'setUsage', 'refreshUsage']);

export async function runSequence(
  targets: readonly StorageTarget[],
  dataDir: string,
  projectId: string,
  initial: InitialState,
  commands: readonly Command[],
  tally: RunTally,
  { readAfterEachStep = true, upload }: SequenceOptions = {},
): Promise<void> {
  tally.runs++;
  const { state, model } = await startRun(targets, dataDir, projectId, initial);

  const counter = new RunCounter(projectId);
  for (const [step, cmd] of commands.entries()) {
    tally.commands++;
    const actor = targets[cmd.via % targets.length]!;
    if (cmd.op === 'upload') {
      if (!upload) throw new Error('an upload command needs an uploader');
      const label = `step ${step} (upload of ${cmd.slots.length} files over HTTP)`;
      const answer = await upload(projectId, cmd.slots);
      if (!answer.ok) throw new Error(`${label}: refused with ${answer.code}`);
      // The server picks names and ids; whatever it picked must be a valid addition to the library as the model has it.
      model.beforeWrite(actor.name);
      assertSameOutcome(`${label}, its records`, 'addMedia', model.addMedia(answer.value as NewModelRecord[]), answer);
      if (readAfterEachStep) await compareLibrary(targets, actor, dataDir, projectId, model, label);
      continue;
    }
    const call = callOf(cmd, model.records.map((r) => r.id), counter);
    const label = `step ${step} (${cmd.op} via ${actor.name}: ${call.method})`;
    if (WRITE_METHODS.has(call.method)) model.beforeWrite(actor.name);
    const expected = expectedOf(model, call);
    assertSameOutcome(`${label}, its answer`, call.method, expected, await actor.call(call.method, call.args));
    if (readAfterEachStep) await compareLibrary(targets, actor, dataDir, projectId, model, label);
  }
  if (!readAfterEachStep) await compareLibrary(targets, targets[0]!, dataDir, projectId, model, `after all ${commands.length} steps`);
}

/** Every target's library, then media.json's bytes, against the model; targets other than `actor` read first. */
async function compareLibrary(
  targets: readonly StorageTarget[],
  actor: StorageTarget,
  dataDir: string,
  projectId: string,
  model: LibraryModel,
  label: string,
): Promise<void> {
  const readers = [...targets.filter((t) => t !== actor), actor];
  for (const reader of readers) {
    assertSameOutcome(`${label}, then the library as ${reader.name} reads it`, 'listMedia', model.listMedia(), await reader.call('listMedia', [projectId]));
  }
  const onDisk = JSON.parse(await readFile(mediaJsonOf(dataDir, projectId), 'utf8')) as unknown;
  assertSameOutcome(`${label}, then media.json on disk`, 'listMedia', model.listMedia(), { ok: true, value: onDisk });
}
