/**
 * Crash (issue 2): a child process committing in a loop is killed with
 * SIGKILL at a random moment, many times over, on one project. After each
 * kill this file acts as the verifier:
 * - media.json parses and validates (read directly: nothing of the storage
 *   worker is trusted to judge its own output here);
 * - every operation the child acknowledged is on disk (an acknowledged page
 *   save: its content file and its marks, never under-marked; an added
 *   record; a metadata update, or a later one of the same child);
 * - the next process opens the project, sweeps, and commits well within the
 *   stale-lock window: a dead holder's lock is recognised by its pid, not by
 *   its age; no lock or claim of the dead pid is left afterwards, and no temp
 *   file of a dead process (this trial's or an earlier one's, and one
 *   planted backdated) that was older than the sweep's safety margin.
 * Usage is judged from the bytes on disk before the next process opens the
 * project (opening reconciles usage and would hide a lost mark): every media
 * path a content file uses is marked for it. The writer re-saves its own
 * pages too, so kills land between the union-of-marks commit and the trim.
 */
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageClient } from '../../client/storage-client.js';
import type { MediaDocument } from '../../shared/media-types.js';
import { errnoCode } from '../../storage-worker/fs-seam.js';
import { parseStamp } from '../../storage-worker/lock-stamp.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';
import { parseTempName } from '../../storage-worker/temp-file-name.js';
import { JsonLineChild, type ChildLine } from '../fixtures/json-line-child.js';
import { readDiskUsage } from '../../scripts/disk-usage.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { readable } from '../helpers/storage-errors.js';

const TRIALS = 12;
const STALE_LOCK_MS = 10_000;
/** reopen + first commit must be far below the stale window */
const REOPEN_BOUND_MS = 2000;
/** leftover-sweep.ts keeps a dead pid's temp file younger than this (another host may share the pid space) */
const SWEEP_MIN_TEMP_AGE_MS = 5000;

const Crash = suite('sigkill-crash');

interface TrialResult {
  acks: number;
  /** the kill landed while a page saved before was being saved again */
  resaveCut: boolean;
  /** over-marks on disk after the kill that are not of a save in flight at the kill */
  unexplainedOverMarks: number;
  lockPresent: boolean;
  reopenWriteMs: number;
  youngDeadTemps: number;
  contentTemps: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Checks every acknowledged operation of one killed child against the files on disk. */
function verifyAcks(
  projectDir: string,
  doc: MediaDocument,
  child: JsonLineChild,
  tag: string,
): { acks: number; resaveCut: boolean; inFlight: Map<string, Set<string>>; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map(doc.files.map((r) => [r.id, r]));
  const lastMeta = new Map<string, number>();
  /** page → its last acknowledged save, and the saves sent after it (at most one: saves of a page never overlap) */
  const pages = new Map<string, { acked: ChildLine | null; later: ChildLine[] }>();
  let acks = 0;
  for (const line of child.lines) {
    if (line.event === 'error' || line.event === 'noise') problems.push(`child reported ${JSON.stringify(line)}`);
    if (line.kind === 'save' && (line.event === 'send' || line.event === 'ack')) {
      const page = line.page as string;
      const entry = pages.get(page) ?? { acked: null, later: [] };
      pages.set(page, entry);
      if (line.event === 'send') entry.later.push(line);
      else {
        entry.acked = line;
        entry.later = [];
      }
    }
    if (line.event !== 'ack') continue;
    acks++;
    if (line.kind === 'add') {
      if (!byId.has(line.id as string)) problems.push(`acknowledged media ${String(line.id)} is missing`);
    } else if (line.kind === 'meta') {
      const id = line.id as string;
      lastMeta.set(id, Math.max(lastMeta.get(id) ?? 0, line.n as number));
    }
  }
  let resaveCut = false;
  /** page → media of its saves that were sent but not acknowledged when the kill came */
  const inFlight = new Map<string, Set<string>>();
  for (const [page, { acked, later }] of pages) {
    if (later.length > 0) inFlight.set(page, new Set(later.flatMap((l) => l.fileIds as string[])));
    if (acked && later.length > 0) resaveCut = true; // killed while re-saving a page it had saved before
    if (!acked) continue; // never acknowledged: its file may or may not exist
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(join(projectDir, 'pages', `${page}.json`), 'utf8'));
    } catch (err) {
      problems.push(`acknowledged page ${page} has no readable content file: ${(err as Error).message}`);
      continue;
    }
    // The last acknowledged save, or the one in flight after it.
    const onDisk = [acked, ...later].find((c) => JSON.stringify(c.content) === JSON.stringify(saved));
    if (!onDisk) {
      problems.push(`page ${page}: content is neither the acknowledged save nor one sent after it`);
      continue;
    }
    for (const id of onDisk.fileIds as string[]) {
      if (!byId.get(id)?.usedIn?.includes(page)) problems.push(`page ${page}: media ${id} is not marked as used (under-marked)`);
    }
  }
  for (const [id, n] of lastMeta) {
    // A later update of the same file may have landed without its ack: the stored n can only be higher.
    const title = byId.get(id)?.metadata.title ?? '';
    const m = /^(.+):(\d+)$/.exec(title);
    if (!m || m[1] !== tag || Number(m[2]) < n) problems.push(`media ${id}: title ${JSON.stringify(title)} lost the acknowledged update ${tag}:${n}`);
  }
  return { acks, resaveCut, inFlight, problems };
}

/** Locks and break claims in a directory stamped by `pid` (or unreadable). */
function locksOf(dir: string, pid: number): string[] {
  const locks: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.lock') && !name.includes('.lock.break.')) continue;
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(dir, name));
    } catch (err) {
      // Gone meanwhile (the live client releases and re-takes its own lock).
      if (errnoCode(err) !== 'ENOENT') throw err;
      continue;
    }
    // A garbled stamp counts as the dead pid's: ProjectLock writes stamps atomically, so it would be a leftover too.
    const stamp = parseStamp(bytes);
    if (stamp === null || stamp.pid === pid) locks.push(name);
  }
  return locks;
}

/**
 * Temp files of dead processes (any pid but ours) that were already older
 * than the sweep's safety margin when the project was opened at `openedAt`:
 * the sweep must have removed them. Temps of every earlier trial count, not
 * only the just-killed child's (those are always younger than the margin).
 */
function sweptTempsLeft(dirs: string[], openedAt: number): string[] {
  const left: string[] = [];
  for (const dir of dirs) {
    for (const name of readdirSync(dir)) {
      const temp = parseTempName(name);
      if (temp === null || temp.pid === process.pid) continue;
      try {
        if (openedAt - statSync(join(dir, name)).mtimeMs > SWEEP_MIN_TEMP_AGE_MS + 500) left.push(join(dir, name));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
  }
  return left;
}

/** A temp file of `pid` as a writer killed mid-write leaves it, backdated past the sweep's margin. */
function plantOldTemp(dir: string, target: string, pid: number): string {
  const path = join(dir, `${target}.tmp.${pid}.1.${Date.now()}.deadbeef`);
  writeFileSync(path, '{"half": ');
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  return path;
}

async function trial(dataDir: string, projectId: string, t: number): Promise<TrialResult> {
  const projectDir = join(dataDir, 'projects', projectId);
  const uploads = join(projectDir, 'uploads');
  const tag = `t${t}`;
  const child = new JsonLineChild('storage-child-crash-writer', [dataDir, projectId, tag]);
  // The next process's worker thread starts while the child runs (it opens
  // no project before its first call), so only the open + write is timed.
  const starting = StorageClient.start({ dataDir, logLevel: 'silent', staleLockMs: STALE_LOCK_MS, lockTimeoutMs: STALE_LOCK_MS + 5000 });
  starting.catch(() => undefined); // awaited below; until then a failed start must not be an unhandled rejection
  let client: StorageClient | null = null;
  try {
    await child.waitFor('ready');
    await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 270));
    const exit = await child.kill('SIGKILL');
    assert.is(exit.signal, 'SIGKILL', `trial ${t}: the child was killed, not exited\n${child.stderr}`);
    const lockPresent = existsSync(join(uploads, 'media.json.lock'));

    // From the bytes on disk, before anything opens the project again
    // (opening reconciles usage with the content files and would hide a lost mark).
    const doc = parseMediaDocument(readFileSync(join(uploads, 'media.json'), 'utf8'));
    const { acks, resaveCut, inFlight, problems } = verifyAcks(projectDir, doc, child, tag);
    assert.equal(problems, [], `trial ${t}: every acknowledged operation survived the kill`);
    const disk = await readDiskUsage(projectDir);
    // Measured, not asserted (the documented rule today allows any over-mark
    // after a crash): over-marks that no save cut by the kill explains.
    const unexplainedOverMarks = disk.overMarks.filter((m) => !inFlight.get(m.source)?.has(m.fileId)).length;
    assert.equal(disk.unreadable, [], `trial ${t}: every content file parses`);
    assert.equal(disk.underMarks, [], `trial ${t}: no content file on disk uses a record not marked for it`);

    // Leftovers of a writer killed long ago, which the sweep at open must remove.
    const planted = [plantOldTemp(uploads, 'media.json', child.pid), plantOldTemp(join(projectDir, 'pages'), `${tag}-planted.json`, child.pid)];
    client = await starting;
    const openedAt = Date.now();
    const t1 = performance.now();
    await client.saveContent(projectId, `probe-${t}`, { id: `probe-${t}`, blocks: [{ type: 'image', settings: { image: doc.files[0]?.path ?? '' } }] });
    const t2 = performance.now();
    const reopenWriteMs = t2 - t1;
    assert.ok(reopenWriteMs < REOPEN_BOUND_MS, `trial ${t}: reopen + first commit took ${Math.round(reopenWriteMs)} ms (stale window ${STALE_LOCK_MS} ms)`);

    assert.equal(locksOf(uploads, child.pid), [], `trial ${t}: no lock or claim of the dead pid ${child.pid} is left`);
    // The sweep removes a dead pid's temp file only once it is older than its
    // safety margin (see leftover-sweep.ts); older ones must be gone.
    assert.equal(planted.filter((p) => existsSync(p)), [], `trial ${t}: the backdated temp files of the dead pid were swept`);
    const sweptDirs = [uploads, projectDir, join(projectDir, 'pages'), join(projectDir, 'pages', 'global')];
    assert.equal(sweptTempsLeft(sweptDirs, openedAt), [], `trial ${t}: no temp file of a dead process older than the margin is left`);
    const deadTemps = (dir: string) => readdirSync(dir).filter((n) => parseTempName(n)?.pid === child.pid).length;
    return { acks, resaveCut, unexplainedOverMarks, lockPresent, reopenWriteMs, youngDeadTemps: deadTemps(uploads), contentTemps: deadTemps(join(projectDir, 'pages')) };
  } finally {
    await child.kill('SIGKILL');
    client ??= await starting.catch(() => null);
    await client?.close();
  }
}

Crash(`a child killed with SIGKILL mid-commit, ${TRIALS} trials: media.json valid, acknowledged writes kept, next process writes at once`, readable(async () => {
  const dataDir = await makeTempDir('sigkill');
  try {
    const projectId = 'crash-site';
    const setup = await StorageClient.start({ dataDir, logLevel: 'silent' });
    try {
      await setup.createProject({ name: 'Crash site', id: projectId });
    } finally {
      await setup.close();
    }
    const results: TrialResult[] = [];
    const started = performance.now();
    for (let t = 1; t <= TRIALS; t++) results.push(await trial(dataDir, projectId, t));

    const uploads = join(dataDir, 'projects', projectId, 'uploads');
    // Temp files the last few trials' children left: still younger than the sweep's margin.
    const tempsAtEnd = readdirSync(uploads).filter((n) => {
      const temp = parseTempName(n);
      return temp !== null && temp.pid !== process.pid;
    }).length;
    const reopenMs = results.map((r) => r.reopenWriteMs);
    const acks = results.reduce((n, r) => n + r.acks, 0);
    const doc = parseMediaDocument(readFileSync(join(uploads, 'media.json'), 'utf8'));
    console.log(
      `  ${TRIALS} trials in ${Math.round(performance.now() - started)} ms: ${acks} acknowledged ops verified, ` +
        `kills with media.json.lock present ${results.filter((r) => r.lockPresent).length}/${TRIALS}, ` +
        `kills during a re-save ${results.filter((r) => r.resaveCut).length}/${TRIALS}, ` +
        `over-marks on disk not of a save cut by the kill ${results.reduce((n, r) => n + r.unexplainedOverMarks, 0)}, ` +
        `reopen+write median ${Math.round(median(reopenMs))} ms / max ${Math.round(Math.max(...reopenMs))} ms, ` +
        `young dead-pid temps kept by the sweep ${results.reduce((n, r) => n + r.youngDeadTemps, 0)}, ` +
        `dead-pid temps left in pages/ ${results.reduce((n, r) => n + r.contentTemps, 0)}, ` +
        `dead-pid temps in uploads/ at the end ${tempsAtEnd}, library ${doc.files.length} records`,
    );
    assert.ok(acks > TRIALS, 'the children acknowledged operations before they were killed');
    assert.ok(results.some((r) => r.lockPresent), 'at least one kill landed while the child held the lock');
    assert.ok(results.some((r) => r.resaveCut), 'at least one kill landed while a page was being saved again (old and new marks in play)');
  } finally {
    await removeTempDir(dataDir);
  }
}));

Crash.run();
