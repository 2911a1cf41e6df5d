/**
 * Two processes at once (issue 2): an old and a new server during a hot
 * reload, or a server and a script, each with its own storage worker, write
 * the same project's media.json. Each child saves 300 pages, three at a time
 * as autosave does, on disjoint page ids; afterwards the test checks
 * from the bytes on disk, before anything opens the project again, that every
 * page's usage is exactly what its last acknowledged save implies (no lost
 * update, no stale mark) and that its content file is that save.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StorageClient } from '../../client/storage-client.js';
import { JsonLineChild, type ChildLine } from '../fixtures/json-line-child.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { makeImageRecords } from '../helpers/media-records.js';
import { readable } from '../helpers/storage-errors.js';
import { readDiskUsage } from '../../scripts/disk-usage.js';
import { parseMediaDocument } from '../../storage-worker/media-document-schema.js';

const ROUNDS = 3;
const PAGES = 300;
/** extra autosave rounds per child that re-save random pages */
const EXTRA_ROUNDS = 20;
const MEDIA = 30;

const TwoProcesses = suite('two-processes');

interface LastAck {
  rev: number;
  fileIds: string[];
  content: unknown;
}

interface ChildReport {
  acks: number;
  errors: ChildLine[];
  last: Map<string, LastAck>;
  stats: ChildLine | undefined;
}

function reportOf(child: JsonLineChild): ChildReport {
  const last = new Map<string, LastAck>();
  const errors: ChildLine[] = [];
  let acks = 0;
  for (const line of child.lines) {
    if (line.event === 'ack') {
      acks++;
      const page = line.page as string;
      const rev = line.rev as number;
      // Saves of one page are sequential in a child, so the highest rev is the last acknowledged.
      if ((last.get(page)?.rev ?? 0) < rev) last.set(page, { rev, fileIds: line.fileIds as string[], content: line.content });
    } else if (line.event === 'error' || line.event === 'noise') {
      errors.push(line);
    }
  }
  return { acks, errors, last, stats: child.lines.find((l) => l.event === 'stats') };
}

async function oneRound(round: number): Promise<void> {
  const dataDir = await makeTempDir('two-processes');
  const children: JsonLineChild[] = [];
  try {
    const projectId = `site-${round}`;
    const setup = await StorageClient.start({ dataDir, logLevel: 'silent' });
    try {
      await setup.createProject({ name: `Two processes ${round}`, id: projectId });
      await setup.addMedia(projectId, makeImageRecords(MEDIA, 'photo'));
    } finally {
      await setup.close();
    }

    const started = performance.now();
    for (const prefix of ['a', 'b']) {
      children.push(new JsonLineChild('storage-child-autosave', [dataDir, projectId, prefix, String(PAGES), String(EXTRA_ROUNDS)]));
    }
    await Promise.all(children.map((c) => c.waitFor('ready', 30_000)));
    await writeFile(join(dataDir, 'go'), '');
    const exits = await Promise.all(children.map((c) => c.finished(50_000)));
    const ms = performance.now() - started;
    for (const [i, exit] of exits.entries()) {
      assert.equal(exit, { code: 0, signal: null }, `child ${i} exit\n${children[i]!.stderr}`);
    }
    const reports = children.map(reportOf);
    const errors = reports.flatMap((r) => r.errors);
    const expected = new Map<string, LastAck>();
    for (const r of reports) for (const [page, ack] of r.last) expected.set(page, ack);

    // Verify from the bytes on disk, before anything opens the project again:
    // opening reconciles every page's usage with its content file, which
    // would hide marks lost on disk.
    const projectDir = join(dataDir, 'projects', projectId);
    const disk = await readDiskUsage(projectDir);
    const doc = parseMediaDocument(await readFile(join(projectDir, 'uploads', 'media.json'), 'utf8'));
    let lost = 0;
    let stale = 0;
    let contentMismatches = 0;
    const problems: string[] = [];
    const marked = new Map<string, Set<string>>();
    for (const rec of doc.files) {
      for (const source of rec.usedIn ?? []) {
        let ids = marked.get(source);
        if (!ids) marked.set(source, (ids = new Set()));
        ids.add(rec.id);
      }
    }
    for (const [page, ack] of expected) {
      const has = marked.get(page) ?? new Set<string>();
      for (const id of ack.fileIds) {
        if (!has.has(id)) {
          lost++;
          problems.push(`${page} rev ${ack.rev}: ${id} not marked`);
        }
      }
      for (const id of has) {
        if (!ack.fileIds.includes(id)) {
          stale++;
          problems.push(`${page} rev ${ack.rev}: ${id} marked but not used`);
        }
      }
      let saved: unknown;
      try {
        saved = JSON.parse(await readFile(join(projectDir, 'pages', `${page}.json`), 'utf8'));
      } catch (err) {
        saved = `unreadable: ${(err as Error).message}`;
      }
      if (JSON.stringify(saved) !== JSON.stringify(ack.content)) {
        contentMismatches++;
        problems.push(`${page}: content is not rev ${ack.rev}`);
      }
    }
    for (const source of marked.keys()) {
      if (!expected.has(source)) problems.push(`usage of a source never saved: ${source}`);
    }
    // Both children shut down cleanly: the marks equal the content files exactly.
    assert.equal(disk.unreadable, [], 'every content file parses');
    assert.equal(disk.underMarks, [], 'no content file on disk uses a record that is not marked for it');
    assert.equal(disk.overMarks, [], 'after a clean shutdown no record is marked for content that does not use it');
    assert.is(disk.used.size, PAGES * 2, 'every page has a content file');

    const ops = reports.reduce((n, r) => n + r.acks, 0);
    const stat = (key: string) => reports.map((r) => Number(r.stats?.[key] ?? NaN));
    console.log(
      `  round ${round}: ${ops} saves acknowledged in ${Math.round(ms)} ms, ${expected.size} pages, lost updates ${lost}, stale marks ${stale}, ` +
        `content mismatches ${contentMismatches}, errors ${errors.length}; commits A/B ${stat('commits').join('/')}, ` +
        `lock waits ${stat('lockWaits').join('/')}, external reloads ${stat('externalReloads').join('/')}`,
    );
    assert.equal(errors, [], 'no child reported an error');
    assert.equal(problems, [], 'usage and content equal every page\'s last acknowledged save');
    assert.is(expected.size, PAGES * 2, 'every page was acknowledged at least once');
    assert.is(ops, 2 * (PAGES + 3 * EXTRA_ROUNDS), 'every save was acknowledged');
    for (const r of reports) assert.ok(r.stats, 'each child reported its stats');
    // The two processes really did write at the same time: each saw the other's commits.
    for (const reloads of stat('externalReloads')) assert.ok(reloads > 0, 'each child reloaded after the other\'s commits');
  } finally {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await removeTempDir(dataDir);
  }
}

for (let round = 1; round <= ROUNDS; round++) {
  TwoProcesses(
    `round ${round}: two processes, 300 pages each, 3 saves at a time: 0 lost updates, 0 errors`,
    readable(() => oneRound(round)),
  );
}

TwoProcesses.run();
