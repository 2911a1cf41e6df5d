/**
 * The chaos harness's final verification, against a cleanly started server
 * and the files on disk:
 *
 * - every acknowledged upload has its record, its bytes and its size variants
 *   (unless a delete of it was sent — then it may be gone);
 * - every acknowledged delete is gone: record, original and variants;
 * - every file's metadata is the last acknowledged edit, or a later one that
 *   was in flight when a server died;
 * - every file's `usedIn` holds each source whose possible contents all use
 *   it (never a subset) and nothing beyond sources some possible content uses
 *   or some save in flight during a restart used (a superset only there: a
 *   crash may leave usage over-marked, and only a full refresh trims that);
 *   after `refresh-usage`, nothing beyond what the possible contents use;
 * - every page reads back as its last acknowledged save or a later in-flight one;
 * - the server's answer equals media.json on disk.
 */
import { isDeepStrictEqual } from 'node:util';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { usedInOf, type MediaDocument, type MediaRecord } from '../shared/media-types.js';
import { projectDirOf, uploadsDirOf } from '../shared/project-paths.js';
import { readMediaJson } from './chaos-disk.js';
import { REV_KEY, sameMetadata, sha256 } from './chaos-editor.js';
import type { ChaosHttp, HttpAnswer, NoAnswer } from './chaos-http.js';
import type { ChaosLedger, ContentSave, KnownFile } from './chaos-ledger.js';
import type { ChaosReport } from './chaos-report.js';
import { exists } from './file-exists.js';
import { readDiskUsage } from './disk-usage.js';

export async function verifyFinalState(
  http: ChaosHttp,
  ledger: ChaosLedger,
  report: ChaosReport,
  dataDir: string,
  projects: string[],
): Promise<void> {
  for (const project of projects) {
    const doc = await fetchDocument(http, report, project);
    if (!doc) continue;
    const disk = await readMediaJson(dataDir, project, report, 'final');
    if (disk) report.check(isDeepStrictEqual(disk, doc), () => `final: GET media of ${project} differs from media.json on disk`);
    await verifyFiles(http, ledger, report, dataDir, project, doc);
    verifyUsage(ledger, report, project, doc, 'final', true);
    await verifyPages(http, ledger, report, project);

    // Rebuilding usage from the content on disk must land in the same bounds.
    const refreshed = await http.send({ method: 'POST', path: `/api/media/projects/${project}/refresh-usage`, json: {}, what: `final refresh ${project}` });
    if (ok(refreshed, report, `final refresh-usage of ${project}`)) {
      const after = await fetchDocument(http, report, project);
      if (after) verifyUsage(ledger, report, project, after, 'after refresh-usage', false);
    }
  }
}

/**
 * Usage from the bytes on disk, after every server has stopped and before the
 * final one opens the projects (opening reconciles usage with the content
 * files, so a check through a server cannot see a mark lost on disk):
 * - never under-marked: every media path a content file uses is marked for
 *   that file's source;
 * - an over-mark (marked, but the source's content does not use it) only
 *   where a save of that source was in flight when a server died.
 */
export async function verifyDiskUsage(ledger: ChaosLedger, report: ChaosReport, dataDir: string, projects: string[], when: string): Promise<void> {
  for (const project of projects) {
    let disk;
    try {
      disk = await readDiskUsage(projectDirOf(dataDir, project));
    } catch (err) {
      report.check(false, () => `${when}: usage of ${project} unreadable on disk: ${(err as Error).message}`);
      continue;
    }
    report.check(disk.unreadable.length === 0, () => `${when}: ${project} content files do not parse: ${disk.unreadable.join(', ')}`);
    const byId = new Map(disk.files.map((f) => [f.id, f]));
    for (const m of disk.underMarks) {
      report.check(false, () => `${when}: ${project}:${byId.get(m.fileId)?.path ?? m.fileId} is used by ${m.source} on disk but not marked for it (under-marked)`);
    }
    report.check(true, () => '');
    const interrupted = new Map([...ledger.sources.values()].filter((s) => s.project === project).map((s) => [s.source, s.saves.interrupted()]));
    for (const m of disk.overMarks) {
      const rec = byId.get(m.fileId);
      const crashed = rec !== undefined && (interrupted.get(m.source) ?? []).some((save) => usesRecord(save, rec as unknown as MediaRecord));
      report.check(crashed, () => `${when}: ${project}:${rec?.path ?? m.fileId} is marked for ${m.source} on disk, which does not use it, and no save of it was cut by a crash`);
    }
  }
}

async function fetchDocument(http: ChaosHttp, report: ChaosReport, project: string): Promise<MediaDocument | null> {
  const res = await http.send({ method: 'GET', path: `/api/media/projects/${project}/media`, what: `final list ${project}` });
  if (!ok(res, report, `final list of ${project}`)) return null;
  const files = (res.json as { files?: unknown }).files;
  if (!report.check(Array.isArray(files), () => `final list of ${project}: no files array`)) return null;
  return res.json as MediaDocument;
}

async function verifyFiles(
  http: ChaosHttp,
  ledger: ChaosLedger,
  report: ChaosReport,
  dataDir: string,
  project: string,
  doc: MediaDocument,
): Promise<void> {
  const byId = new Map(doc.files.map((f) => [f.id, f]));
  for (const file of ledger.filesOf(project)) {
    const rec = byId.get(file.id);
    if (file.deleteAcked) {
      report.check(rec === undefined, () => `acknowledged delete of ${file.filename} (${file.id}) but its record is still there`);
      if (!file.binariesGone) continue;
      for (const name of [file.filename, ...Object.values(file.sizes).map((v) => v.filename)]) {
        const present = await exists(join(uploadsDirOf(dataDir, project), 'images', name));
        report.check(!present, () => `acknowledged delete of ${file.filename}: ${name} still on disk`);
      }
      continue;
    }
    if (!rec) {
      report.check(file.deleteSent, () => `acknowledged upload ${file.filename} (${file.id}) has no record`);
      continue;
    }
    report.check(
      rec.filename === file.filename && rec.path === file.path && rec.size === file.size && rec.width === file.width && rec.height === file.height,
      () => `record of ${file.filename} changed: ${JSON.stringify(rec).slice(0, 300)}`,
    );
    const bytes = await http.send({ method: 'GET', path: `/api/media/projects/${project}/media/${file.id}`, what: `bytes of ${file.filename}` });
    if (ok(bytes, report, `bytes of ${file.filename}`)) {
      report.check(sha256(bytes.bytes) === file.sha256, () => `bytes of ${file.filename} differ from the upload`);
    }
    for (const [size, variant] of Object.entries(file.sizes)) {
      const v = await http.send({
        method: 'GET',
        path: `/api/media/projects/${project}/uploads/images/${variant.filename}`,
        what: `${size} variant of ${file.filename}`,
      });
      if (ok(v, report, `${size} variant of ${file.filename}`)) {
        report.check(v.bytes.length === variant.size, () => `${size} variant of ${file.filename}: ${v.bytes.length} bytes, recorded ${variant.size}`);
      }
    }
    const candidates = file.metadata.candidates();
    report.check(
      candidates.some((c) => sameMetadata(rec.metadata, c)),
      () => `metadata of ${file.filename} is ${JSON.stringify(rec.metadata)}; possible: ${JSON.stringify(candidates)}`,
    );
  }
}

/**
 * For each record: the sources that must list it (every possible content of
 * the source uses its path) and the sources that may (some possible content
 * does). A record the harness does not know (an upload whose answer was lost)
 * is used by no content, so it must list nothing.
 */
function verifyUsage(
  ledger: ChaosLedger,
  report: ChaosReport,
  project: string,
  doc: MediaDocument,
  when: string,
  allowCrashLeftovers: boolean,
): void {
  const sources = [...ledger.sources.values()].filter((s) => s.project === project);
  for (const rec of doc.files) {
    const must: string[] = [];
    const may = new Set<string>();
    for (const { source, saves } of sources) {
      const candidates = saves.candidates();
      const uses = candidates.map((c) => usesRecord(c, rec));
      if (uses.every(Boolean)) must.push(source);
      if (uses.some(Boolean)) may.add(source);
      if (allowCrashLeftovers && saves.interrupted().some((c) => usesRecord(c, rec))) may.add(source);
    }
    const usedIn = usedInOf(rec);
    const used = new Set(usedIn);
    const missing = must.filter((s) => !used.has(s));
    const extra = usedIn.filter((s) => !may.has(s));
    report.check(missing.length === 0, () => `${when}: ${project}/${rec.filename} usedIn ${JSON.stringify(rec.usedIn)} lacks ${JSON.stringify(missing)}`);
    report.check(extra.length === 0, () => `${when}: ${project}/${rec.filename} usedIn ${JSON.stringify(rec.usedIn)} has ${JSON.stringify(extra)} no save used`);
    report.check(used.size === usedIn.length, () => `${when}: ${project}/${rec.filename} usedIn has duplicates ${JSON.stringify(rec.usedIn)}`);
  }
}

function usesRecord(save: ContentSave | undefined, rec: MediaRecord): boolean {
  if (!save) return false;
  return save.paths.includes(rec.path) || Object.values(rec.sizes).some((v) => save.paths.includes(v.path));
}

async function verifyPages(http: ChaosHttp, ledger: ChaosLedger, report: ChaosReport, project: string): Promise<void> {
  for (const { project: p, source, saves } of ledger.sources.values()) {
    if (p !== project || source.startsWith('global:')) continue;
    const res = await http.send({ method: 'GET', path: `/api/projects/${project}/pages/${source}`, what: `final read of page ${source}` });
    const candidates = saves.candidates();
    const revs = candidates.map((c) => (c ? revOf(c.content) : 'absent'));
    const actual = res.status === 404 ? 'absent' : res.status === 200 ? revOf((res as HttpAnswer).json) : `status ${res.status}`;
    report.check(revs.includes(actual), () => `page ${project}/${source} reads back as ${actual}; possible: ${JSON.stringify(revs)}`);
  }
}

/** The harness's revision marker, wherever the API nests the content (depth ≤ 3). */
function revOf(value: unknown, depth = 0): string {
  if (typeof value !== 'object' || value === null || depth > 3) return 'no marker';
  const v = value as Record<string, unknown>;
  if (typeof v[REV_KEY] === 'string') return v[REV_KEY];
  for (const child of Object.values(v)) {
    const found = revOf(child, depth + 1);
    if (found !== 'no marker') return found;
  }
  return 'no marker';
}

function ok(res: HttpAnswer | NoAnswer, report: ChaosReport, what: string): res is HttpAnswer {
  if (res.status === 0) return false;
  return report.check(res.status === 200, () => `${what}: status ${res.status}`);
}

export type { KnownFile };
