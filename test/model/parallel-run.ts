/**
 * One parallel model run on two processes: from an initial state opened by
 * both, a batch of commands is sent to the two processes at once (no order
 * between them, so no exact answer to expect). Then, reading the BYTES of
 * media.json and the content files with plain fs before anything reopens the
 * project, the invariants that must hold whatever the interleaving:
 * - media.json is valid: parses, unique ids, no path owned twice, usedIn a list of distinct sources;
 * - usage is never under-marked: a record on disk that a content file on disk uses is marked by that source;
 * - nothing acknowledged is lost: acknowledged uploads are there, acknowledged deletes are gone,
 *   records nobody deleted are still there, and a record's one acknowledged metadata update is on disk.
 */
import { readFile } from 'node:fs/promises';
import { callOf, RunCounter, type Command } from './commands.js';
import { contentFile, mediaJsonOf, projectDirOf, SOURCES, type InitialState } from './initial-states.js';
import { pathsOfRecord, type ModelRecord, type Outcome } from './library-model.js';
import type { RunTally } from './model-settings.js';
import type { StorageTarget } from './storage-targets.js';
import { startRun } from './run-start.js';

/** Refusals a command may meet whatever ran beside it; anything else (LOCK_TIMEOUT, STORAGE_IO, …) is a failure. */
const EXPECTED_REFUSALS: Readonly<Record<string, readonly string[]>> = {
  deleteContent: ['PAGE_NOT_FOUND', 'INVALID_INPUT'],
  readContent: ['PAGE_NOT_FOUND', 'INVALID_INPUT'],
  saveContent: ['INVALID_INPUT'],
  updateMetadata: ['MEDIA_NOT_FOUND', 'INVALID_INPUT'],
  getMedia: ['MEDIA_NOT_FOUND'],
  usage: ['MEDIA_NOT_FOUND'],
};

export async function runParallel(
  targets: readonly StorageTarget[],
  dataDir: string,
  projectId: string,
  initial: InitialState,
  batch: readonly Command[],
  tally: RunTally,
): Promise<void> {
  tally.runs++;
  const { state, model } = await startRun(targets, dataDir, projectId, initial);

  // The paths each content file uses, by the token it carries.
  const pathsByToken = new Map<string, string[]>();
  state.content.forEach(([, rendered]) => pathsByToken.set((rendered.content as { token: string }).token, rendered.paths));
  const counter = new RunCounter(projectId);
  const startIds = model.records.map((r) => r.id);
  const calls = batch.map((cmd) => ({ cmd, call: callOf(cmd, startIds, counter) }));
  for (const { call } of calls) {
    if (call.rendered) pathsByToken.set((call.rendered.content as { token: string }).token, call.rendered.paths);
  }
  tally.commands += calls.length;
  const before = await readProjectBytes(dataDir, projectId);
  const outcomes = await Promise.all(calls.map(({ cmd, call }) => targets[cmd.via % targets.length]!.call(call.method, call.args)));

  // Read everything from disk at once, before any process touches the project again.
  const after = await readProjectBytes(dataDir, projectId);
  const mediaText = after.media;
  const contentOnDisk = new Map<string, unknown>();
  for (const [source, text] of after.content) contentOnDisk.set(source, JSON.parse(text));

  const problems: string[] = [];
  calls.forEach(({ cmd, call }, i) => {
    const outcome = outcomes[i]!;
    if (!outcome.ok && !(EXPECTED_REFUSALS[call.method] ?? []).includes(outcome.code)) {
      problems.push(`command ${i} (${cmd.op} via process ${cmd.via}: ${call.method}) failed with ${outcome.code}`);
    }
  });
  const records = validDocument(mediaText, problems);
  if (records) {
    // Opening and reading never write (the editor may be running on the same
    // files): a library the editor wrote keeps its own reading — no `usedIn`
    // until usage is first computed — until a write call of ours reconciles
    // it. So when not one byte of the project changed, its marks are the
    // initial state's, not ours to judge; any change (a write call always
    // reconciles first) makes every mark ours.
    if (!sameBytes(before, after)) checkUsage(records, contentOnDisk, pathsByToken, problems);
    checkAcknowledged(records, startIds, calls.map((c) => c.call), outcomes, problems);
  }
  if (problems.length > 0) throw new Error(`after the parallel batch:\n  ${problems.join('\n  ')}`);
}

function validDocument(text: string, problems: string[]): ModelRecord[] | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    problems.push(`media.json is not JSON: ${(err as Error).message}`);
    return null;
  }
  const files = (doc as { files?: unknown }).files;
  if (!Array.isArray(files)) {
    problems.push('media.json has no files list');
    return null;
  }
  const records = files as ModelRecord[];
  const ids = new Set<string>();
  const owners = new Map<string, string>();
  for (const rec of records) {
    if (ids.has(rec.id)) problems.push(`media.json holds ${rec.id} twice`);
    ids.add(rec.id);
    for (const path of pathsOfRecord(rec)) {
      if (owners.has(path)) problems.push(`media.json gives ${path} to ${owners.get(path)} and ${rec.id}`);
      owners.set(path, rec.id);
    }
    const usedIn = (rec as { usedIn?: unknown }).usedIn;
    if (usedIn !== undefined && (!Array.isArray(usedIn) || new Set(usedIn).size !== usedIn.length || usedIn.some((s) => typeof s !== 'string'))) {
      problems.push(`${rec.id} has usedIn ${JSON.stringify(usedIn)}`);
    }
  }
  return records;
}

function checkUsage(records: readonly ModelRecord[], contentOnDisk: ReadonlyMap<string, unknown>, pathsByToken: ReadonlyMap<string, string[]>, problems: string[]): void {
  for (const [source, content] of contentOnDisk) {
    const token = (content as { token?: string }).token ?? '';
    const paths = pathsByToken.get(token);
    if (!paths) {
      problems.push(`${source} on disk holds content no save wrote (token ${JSON.stringify(token)})`);
      continue;
    }
    for (const rec of records) {
      if (pathsOfRecord(rec).some((p) => paths.includes(p)) && !(rec.usedIn ?? []).includes(source)) {
        problems.push(`under-marked: ${source} (content ${token}) uses ${rec.path} (${rec.id}) but its usedIn is ${JSON.stringify(rec.usedIn ?? [])}`);
      }
    }
  }
}

function checkAcknowledged(records: readonly ModelRecord[], startIds: readonly string[], calls: ReadonlyArray<{ method: string; args: unknown[] }>, outcomes: readonly Outcome[], problems: string[]): void {
  const onDisk = new Map(records.map((r) => [r.id, r]));
  const deleted = new Set<string>();
  const metadataUpdates = new Map<string, Array<Record<string, string> | null>>();
  calls.forEach((call, i) => {
    const outcome = outcomes[i]!;
    if (call.method === 'updateMetadata') {
      const id = call.args[1] as string;
      metadataUpdates.set(id, [...(metadataUpdates.get(id) ?? []), outcome.ok ? (outcome.value as ModelRecord).metadata : null]);
    }
    if (!outcome.ok) return;
    if (call.method === 'addMedia') {
      for (const rec of outcome.value as ModelRecord[]) if (!onDisk.has(rec.id)) problems.push(`acknowledged upload ${rec.id} (${rec.path}) is not in media.json`);
    }
    if (call.method === 'deleteMedia') {
      for (const rec of (outcome.value as { deleted: ModelRecord[] }).deleted) deleted.add(rec.id);
    }
  });
  for (const id of startIds) {
    if (deleted.has(id) && onDisk.has(id)) problems.push(`acknowledged delete of ${id} is undone: it is in media.json`);
    if (!deleted.has(id) && !onDisk.has(id)) problems.push(`${id} was never deleted but is gone from media.json`);
  }
  for (const [id, updates] of metadataUpdates) {
    // Only a record with exactly one update has one right answer whatever the interleaving.
    const [only] = updates;
    if (updates.length !== 1 || !only || !onDisk.has(id)) continue;
    const diskMetadata = onDisk.get(id)!.metadata;
    if (JSON.stringify(diskMetadata) !== JSON.stringify(only)) {
      problems.push(`acknowledged metadata of ${id} is ${JSON.stringify(only)} but media.json has ${JSON.stringify(diskMetadata)}`);
    }
  }
}

interface ProjectBytes {
  media: string;
  /** content file text by source, for the sources that have one */
  content: Map<string, string>;
}

async function readProjectBytes(dataDir: string, projectId: string): Promise<ProjectBytes> {
  const media = await readFile(mediaJsonOf(dataDir, projectId), 'utf8');
  const content = new Map<string, string>();
  for (const source of SOURCES) {
    const text = await readFile(contentFile(projectDirOf(dataDir, projectId), source), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (text !== null) content.set(source, text);
  }
  return { media, content };
}

function sameBytes(a: ProjectBytes, b: ProjectBytes): boolean {
  if (a.media !== b.media || a.content.size !== b.content.size) return false;
  for (const [source, text] of a.content) if (b.content.get(source) !== text) return false;
  return true;
}
