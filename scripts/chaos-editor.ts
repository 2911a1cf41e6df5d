/**
 * One simulated editor tab: it autosaves (its page, the header and the footer
 * in parallel), uploads small real PNGs, edits metadata, deletes and bulk
 * deletes its own uploads, refreshes usage and reads the library — one action
 * after another, the way a person's editor does, against whichever server is
 * up. Everything it sends is recorded in the ledger before it is sent, and
 * marked acknowledged when a 2xx comes back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FormData } from 'undici';
import type { MediaMetadata } from '../shared/media-types.js';
import type { ChaosHttp, HttpAnswer, NoAnswer } from './chaos-http.js';
import type { ChaosLedger, ContentSave, KnownFile } from './chaos-ledger.js';
import { makePng } from './chaos-png.js';
import type { ChaosReport } from './chaos-report.js';

const PAGES_PER_CLIENT = 3;
const WORDS = ['sunset', 'harbour', 'team', 'logo', 'hero', 'banner', 'forest', 'office', 'product', 'night'];

/** The key the harness puts in every saved content, to tell saves apart when reading them back. */
export const REV_KEY = 'chaosRev';

export class EditorClient {
  private uploads = 0;
  private revs = 0;

  constructor(
    readonly id: number,
    readonly project: string,
    private readonly http: ChaosHttp,
    private readonly ledger: ChaosLedger,
    private readonly report: ChaosReport,
  ) {}

  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const roll = Math.random();
      if (roll < 0.4) await this.autosaveBurst();
      else if (roll < 0.58) await this.upload();
      else if (roll < 0.72) await this.editMetadata();
      else if (roll < 0.8) await this.deleteOne();
      else if (roll < 0.85) await this.bulkDelete();
      else if (roll < 0.89) await this.refreshUsage();
      else await this.read();
      // A person's editor does not fire back to back; this also bounds the load.
      await sleep(5 + Math.random() * 25);
    }
  }

  // --- autosave -------------------------------------------------------------

  private async autosaveBurst(): Promise<void> {
    const page = `c${this.id}-p${Math.floor(Math.random() * PAGES_PER_CLIENT)}`;
    const saves: Array<Promise<void>> = [this.saveSource(page, `/api/projects/${this.project}/pages/${page}/content`)];
    for (const type of ['header', 'footer']) {
      const source = `global:${type}`;
      // Another tab is saving this one right now: an editor would save it next time.
      if (!this.ledger.tryTake(this.project, source)) continue;
      saves.push(
        this.saveSource(source, `/api/projects/${this.project}/global-widgets/${type}`).finally(() =>
          this.ledger.release(this.project, source),
        ),
      );
    }
    await Promise.all(saves);
  }

  private async saveSource(source: string, path: string): Promise<void> {
    const paths = this.pickReferences();
    const rev = `${this.id}.${++this.revs}`;
    const content = makeContent(source, paths, rev);
    const attempt = this.ledger.source(this.project, source).begin({ paths, content } satisfies ContentSave);
    const res = await this.http.send({ method: 'POST', path, json: content, what: `save ${this.project}/${source}` });
    if (res.attempts > 1) attempt.interrupted = true;
    if (!this.expect(res, [200, 201], `save ${source}`)) return;
    attempt.acked = true;
    this.report.acknowledged += 1;
    const mediaPaths = (res.json as { mediaPaths?: unknown }).mediaPaths;
    this.report.check(
      Array.isArray(mediaPaths) && sameSet(mediaPaths as string[], paths),
      () => `save ${this.project}/${source}: mediaPaths ${JSON.stringify(mediaPaths)}, content held ${JSON.stringify(paths)}`,
    );
  }

  /** 0–3 media paths of the project, any client's, deleted ones included (an editor may still show them). */
  private pickReferences(): string[] {
    const files = this.ledger.filesOf(this.project);
    const n = Math.min(files.length, Math.floor(Math.random() * 4));
    const picked = new Set<string>();
    for (let i = 0; i < n; i++) picked.add(files[Math.floor(Math.random() * files.length)]!.path);
    return [...picked];
  }

  // --- uploads --------------------------------------------------------------

  private async upload(): Promise<void> {
    const count = 1 + Math.floor(Math.random() * 3);
    const batch = ++this.uploads;
    const items = Array.from({ length: count }, (_, k) => {
      // Now and then one wide enough for a `thumb` variant (150 px).
      const wide = Math.random() < 0.1;
      const width = wide ? 160 + Math.floor(Math.random() * 60) : 8 + Math.floor(Math.random() * 40);
      const height = wide ? 90 : 8 + Math.floor(Math.random() * 40);
      const bytes = makePng(width, height);
      return { name: `c${this.id}-u${batch}-${k}.png`, bytes, width, height, sha256: sha256(bytes) };
    });
    const form = (): FormData => {
      const fd = new FormData();
      for (const item of items) fd.append('files', new Blob([new Uint8Array(item.bytes)], { type: 'image/png' }), item.name);
      return fd;
    };
    const path = `/api/media/projects/${this.project}/media`;
    const res = await this.http.send({ method: 'POST', path, form, what: `upload to ${this.project}` });
    if (!this.expect(res, [201], 'upload')) return;
    this.report.acknowledged += 1;
    const body = res.json as { processedFiles?: unknown; rejectedFiles?: unknown };
    const processed = Array.isArray(body.processedFiles) ? (body.processedFiles as Array<Record<string, unknown>>) : [];
    this.report.check(
      processed.length === count && Array.isArray(body.rejectedFiles) && body.rejectedFiles.length === 0,
      () => `upload: ${count} sent, answer ${JSON.stringify(body).slice(0, 400)}`,
    );
    for (const rec of processed) {
      const item = items.find((i) => i.name === rec.originalName);
      const ok = this.report.check(
        item !== undefined &&
          typeof rec.id === 'string' &&
          typeof rec.filename === 'string' &&
          rec.path === `/uploads/images/${String(rec.filename)}` &&
          rec.type === 'image/png' &&
          rec.size === item.bytes.length &&
          rec.width === item.width &&
          rec.height === item.height,
        () => `upload: record does not describe what was sent: ${JSON.stringify(rec).slice(0, 400)}`,
      );
      if (!ok || !item) continue;
      const sizes: KnownFile['sizes'] = {};
      for (const [name, v] of Object.entries((rec.sizes ?? {}) as Record<string, { filename: string; size: number }>)) {
        sizes[name] = { filename: v.filename, size: v.size };
      }
      this.ledger.addFile({
        project: this.project,
        id: rec.id as string,
        filename: rec.filename as string,
        path: rec.path as string,
        size: item.bytes.length,
        sha256: item.sha256,
        width: item.width,
        height: item.height,
        sizes,
        owner: this.id,
      });
    }
  }

  // --- metadata -------------------------------------------------------------

  private async editMetadata(): Promise<void> {
    const file = this.pickOwnFile();
    if (!file) return;
    const patch: MediaMetadata = { alt: words(3), title: words(2), caption: words(5) };
    const attempt = file.metadata.begin(patch);
    const res = await this.http.send({
      method: 'PUT',
      path: `/api/media/projects/${this.project}/media/${file.id}/metadata`,
      json: patch,
      what: `metadata of ${file.filename}`,
    });
    if (!this.expect(res, [200], `metadata of ${file.filename}`)) return;
    attempt.acked = true;
    this.report.acknowledged += 1;
    const meta = ((res.json as { file?: { metadata?: MediaMetadata } }).file ?? {}).metadata;
    this.report.check(sameMetadata(meta, patch), () => `metadata of ${file.filename}: answer ${JSON.stringify(meta)}, sent ${JSON.stringify(patch)}`);
  }

  // --- deletes --------------------------------------------------------------

  private async deleteOne(): Promise<void> {
    const file = this.pickOwnFile();
    if (!file) return;
    file.deleteSent = true;
    const res = await this.http.send({
      method: 'DELETE',
      path: `/api/media/projects/${this.project}/media/${file.id}`,
      what: `delete ${file.filename}`,
    });
    if (res.status === 409) {
      // In use: refused, and the refusal proves no earlier try deleted it.
      this.report.checks += 1;
      file.deleteSent = false;
      return;
    }
    if (res.status === 404 && res.attempts > 1) {
      // An earlier try reached the server and deleted it before the connection dropped.
      this.report.checks += 1;
      file.deleteAcked = true;
      return;
    }
    if (!this.expect(res, [200, 204], `delete ${file.filename}`)) return;
    file.deleteAcked = true;
    file.binariesGone = true;
    this.report.acknowledged += 1;
  }

  private async bulkDelete(): Promise<void> {
    const files: KnownFile[] = [];
    for (let i = 0; i < 3; i++) {
      const f = this.pickOwnFile();
      if (f && !files.includes(f)) files.push(f);
    }
    if (files.length === 0) return;
    const unknown = randomUUID();
    for (const f of files) f.deleteSent = true;
    const res = await this.http.send({
      method: 'POST',
      path: `/api/media/projects/${this.project}/media/bulk-delete`,
      json: { fileIds: [...files.map((f) => f.id), unknown] },
      what: `bulk delete in ${this.project}`,
    });
    if (!this.expect(res, [200], 'bulk delete')) return;
    this.report.acknowledged += 1;
    const body = res.json as { deleted?: string[]; deletedCount?: number; filesInUse?: Array<{ id: string }>; notFound?: string[] };
    const deleted = new Set(body.deleted ?? []);
    const inUse = new Set((body.filesInUse ?? []).map((f) => f.id));
    const notFound = new Set(body.notFound ?? []);
    this.report.check(body.deletedCount === deleted.size, () => `bulk delete: deletedCount ${body.deletedCount} for ${deleted.size} ids`);
    this.report.check(notFound.has(unknown), () => `bulk delete: unknown id not reported notFound: ${JSON.stringify(body)}`);
    for (const f of files) {
      if (deleted.has(f.id)) {
        f.deleteAcked = true;
        f.binariesGone = true;
      }
      else if (inUse.has(f.id)) f.deleteSent = false;
      else if (notFound.has(f.id)) {
        // Only an earlier try of this very request can have removed it.
        this.report.check(res.attempts > 1, () => `bulk delete: ${f.filename} reported notFound on the first try`);
        f.deleteAcked = true;
      } else this.report.violate(`bulk delete: ${f.filename} missing from the answer ${JSON.stringify(body)}`);
    }
  }

  // --- others ---------------------------------------------------------------

  private async refreshUsage(): Promise<void> {
    const res = await this.http.send({
      method: 'POST',
      path: `/api/media/projects/${this.project}/refresh-usage`,
      json: {},
      what: `refresh usage of ${this.project}`,
    });
    if (!this.expect(res, [200], 'refresh usage')) return;
    this.report.acknowledged += 1;
  }

  private async read(): Promise<void> {
    const res = await this.http.send({ method: 'GET', path: `/api/media/projects/${this.project}/media`, what: `list ${this.project}` });
    if (!this.expect(res, [200], 'list media')) return;
    this.report.check(Array.isArray((res.json as { files?: unknown }).files), () => `list ${this.project}: no files array`);
    const file = this.pickOwnFile();
    if (!file) return;
    const usage = await this.http.send({
      method: 'GET',
      path: `/api/media/projects/${this.project}/media/${file.id}/usage`,
      what: `usage of ${file.filename}`,
    });
    this.expect(usage, [200], `usage of ${file.filename}`);
  }

  private pickOwnFile(): KnownFile | undefined {
    const own = this.ledger.filesOf(this.project).filter((f) => f.owner === this.id && !f.deleteSent);
    return own[Math.floor(Math.random() * own.length)];
  }

  /** Narrows to an answer with one of `statuses`; anything else is a violation. */
  private expect(res: HttpAnswer | NoAnswer, statuses: number[], what: string): res is HttpAnswer {
    if (res.status === 0) return false; // already reported by the client
    return this.report.check(statuses.includes(res.status), () => `${what}: status ${res.status} ${(res as HttpAnswer).bytes.toString().slice(0, 300)}`);
  }
}

function makeContent(source: string, paths: string[], rev: string): unknown {
  if (source.startsWith('global:')) {
    return {
      type: source.slice('global:'.length),
      settings: { logo: paths[0] ?? null, background: paths[1] ? `url(${paths[1]})` : 'none' },
      blocks: paths.slice(2).map((p, i) => ({ id: `b${i}`, type: 'image', settings: { src: p } })),
      [REV_KEY]: rev,
    };
  }
  return {
    widgets: paths.map((p, i) => ({
      id: `w${i}`,
      type: i % 2 === 0 ? 'image' : 'text',
      settings: i % 2 === 0 ? { src: p, alt: 'picture' } : { html: `<p>See <img src="${p}" alt=""></p>` },
      blocks: [],
    })),
    seo: { title: `page ${source}`, description: 'chaos' },
    [REV_KEY]: rev,
  };
}

export function sameMetadata(actual: MediaMetadata | undefined, expected: MediaMetadata | undefined): boolean {
  const a = actual ?? {};
  const e = expected ?? {};
  return (['alt', 'title', 'caption', 'description'] as const).every((k) => (a[k] ?? '') === (e[k] ?? ''));
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

function words(n: number): string {
  return Array.from({ length: n }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(' ');
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
