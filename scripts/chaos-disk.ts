/**
 * What the chaos harness checks directly on disk, as a verifier outside the
 * server: every project's media.json parses and validates (after every kill),
 * and which temp, lock and quarantine files exist and which process they name.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../shared/errno.js';
import { claimedLockName, parseMediaDocument, parseTempName } from '../disk-format.js';
import type { MediaDocument } from '../shared/media-types.js';
import { isQuarantineName, LOCK_SUFFIX, mediaFileOf, MEDIA_FILE, projectDirOf } from '../shared/project-paths.js';
import type { ChaosReport } from './chaos-report.js';

export function mediaJsonPath(dataDir: string, project: string): string {
  return mediaFileOf(projectDirOf(dataDir, project));
}

/** Reads and validates one project's media.json; a violation (and null) when it does not. */
export async function readMediaJson(dataDir: string, project: string, report: ChaosReport, when: string): Promise<MediaDocument | null> {
  let text: string;
  try {
    text = await readFile(mediaJsonPath(dataDir, project), 'utf8');
  } catch (err) {
    report.check(false, () => `${when}: media.json of ${project} unreadable: ${(err as Error).message}`);
    return null;
  }
  try {
    const doc = parseMediaDocument(text, `${project}/${MEDIA_FILE}`);
    report.check(true, () => '');
    return doc;
  } catch (err) {
    report.check(false, () => `${when}: ${(err as Error).message}`);
    return null;
  }
}

export interface Leftover {
  /** relative to the data dir */
  path: string;
  kind: 'temp' | 'lock' | 'claim' | 'quarantine';
  /** the process the file names; null when it names none (garbled) */
  pid: number | null;
}

/** Every temp, lock, break-claim and quarantined file under the data dir. */
export async function findLeftovers(dataDir: string): Promise<Leftover[]> {
  const out: Leftover[] = [];
  const entries = await readdir(dataDir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    const rel = full.slice(dataDir.length + 1);
    const temp = parseTempName(e.name);
    if (temp) {
      out.push({ path: rel, kind: 'temp', pid: temp.pid });
    } else if (e.name.endsWith(LOCK_SUFFIX)) {
      out.push({ path: rel, kind: 'lock', pid: await stampPid(full) });
    } else if (claimedLockName(e.name) !== null) {
      out.push({ path: rel, kind: 'claim', pid: await stampPid(full) });
    } else if (isQuarantineName(e.name)) {
      out.push({ path: rel, kind: 'quarantine', pid: null });
    }
  }
  return out;
}

async function stampPid(path: string): Promise<number | null> {
  try {
    const stamp = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown };
    return typeof stamp.pid === 'number' ? stamp.pid : null;
  } catch (err) {
    // Released (unlinked) between the listing and the read, or not a stamp.
    const code = errnoCode(err);
    if (code === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
}
