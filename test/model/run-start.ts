/**
 * The start of every model run: write the initial library to disk as its
 * author (the editor, or mediastore) would, build the model from the same
 * state, and check that every process opens it as the model says.
 */
import { assertSameOutcome } from './answer-compare.js';
import { materialise, writeInitialState, type InitialState } from './initial-states.js';
import { LibraryModel } from './library-model.js';
import type { StorageTarget } from './storage-targets.js';

export async function startRun(
  targets: readonly StorageTarget[],
  dataDir: string,
  projectId: string,
  initial: InitialState,
): Promise<{ state: ReturnType<typeof materialise>; model: LibraryModel }> {
  const state = materialise(initial);
  await writeInitialState(dataDir, projectId, initial.shape, state);
  const model = new LibraryModel(state.records, state.content);
  for (const target of targets) {
    assertSameOutcome(`opening the ${initial.shape} library in ${target.name}`, 'listMedia', model.listMedia(), await target.call('listMedia', [projectId]));
  }
  return { state, model };
}
