/**
 * Projects of a data directory as images, read through the file backend: it
 * resolves projects.json (editor UUID → folder, folders without an entry
 * under their folder name) and opens each library as it is.
 *
 * Read-only for the editor's data. A library is validated (the file
 * backend's own parse) BEFORE the backend opens it: opening a corrupt
 * media.json would quarantine it, or restore media.json.bak over it, and a
 * migration must report a corrupt library and skip it, never "repair" it.
 * Opening a healthy project sweeps temp and lock files of dead processes,
 * as any mediastore open does; media.json and content are never written.
 */
import { join } from 'node:path';
import pino from 'pino';
import { StorageError } from '../../shared/errors.js';
import type { UsageSource } from '../../shared/media-types.js';
import { AtomicJsonFile } from '../atomic-json-file.js';
import { serializeContent } from '../content-files.js';
import { FileBackend } from '../file-backend.js';
import { errnoCode, realFs } from '../fs-seam.js';
import { parseMediaDocument } from '../media-document-schema.js';
import type { MediaLibrary } from '../library-backend.js';
import { ProjectRegistry, type RegistryEntry } from '../project-registry.js';
import { ProjectStore } from '../project-store.js';
import { WorkerCounters } from '../worker-counters.js';
import type { ProjectImage } from './project-image.js';

/** The service's bound on saved content; larger editor files are carried all the same. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

export type FileProjectRead =
  | { ok: true; image: ProjectImage; notes: string[] }
  | { ok: false; id: string; folder: string; reason: string };

export class FilesSource {
  private readonly backend: FileBackend;
  private readonly registry: ProjectRegistry;
  private readonly projectsDir: string;

  constructor(private readonly dataDir: string) {
    this.projectsDir = join(dataDir, 'projects');
    this.backend = new FileBackend({ dataDir, logger: pino({ level: 'silent' }) });
    this.registry = new ProjectRegistry(this.projectsDir, realFs, { timeoutMs: 5000, staleMs: 10_000 });
  }

  /** The ids of every project the file backend lists, in its order; INVALID_INPUT when there is no `projects/` folder. */
  async list(): Promise<string[]> {
    if (!(await exists(this.projectsDir))) {
      throw new StorageError('INVALID_INPUT', `no projects/ folder in ${this.dataDir}: not a data directory`);
    }
    return (await this.backend.listProjects()).map((p) => p.id);
  }

  /** One project read, its library closed again (a big data directory is never held in memory whole). */
  async readAndClose(projectId: string): Promise<FileProjectRead> {
    try {
      return await this.read(projectId);
    } finally {
      await this.backend.drain();
    }
  }

  /** One project (by id or folder); PROJECT_NOT_FOUND if the backend does not know it. */
  async read(projectId: string): Promise<FileProjectRead> {
    const info = await this.backend.getProject(projectId);
    const refused = (reason: string): FileProjectRead => ({ ok: false, id: info.id, folder: info.folder, reason });
    const mediaJson = join(this.projectsDir, info.folder, 'uploads', 'media.json');
    try {
      const found = await new AtomicJsonFile(mediaJson, { parse: (text) => parseMediaDocument(text) }).read();
      if (found === null && (await exists(`${mediaJson}.bak`))) {
        return refused('media.json is missing and media.json.bak exists: open the project with mediastore once (it restores the backup), then migrate again');
      }
    } catch (err) {
      const error = StorageError.from(err, 'STORAGE_IO');
      return refused(error.code === 'CORRUPT_DOCUMENT' ? `corrupt media.json, left as it is: ${error.message}` : `media.json unreadable: ${error.message}`);
    }
    // Without media.json there is nothing to open: the file backend's open would make uploads/ first.
    const library = (await exists(mediaJson)) ? await this.backend.library(info.id) : null;
    const doc = library ? (await library.read()).doc : { files: [] };
    const contentOf = library ?? this.unopenedStore(info.id, info.folder);
    const notes: string[] = [];
    if (Object.keys(doc).some((k) => k !== 'files')) notes.push(`media.json fields beside "files" are not carried: ${Object.keys(doc).filter((k) => k !== 'files').join(', ')}`);
    const content: Array<[UsageSource, string]> = [];
    for (const source of (await contentOf.contentSources()).sort()) {
      const value = await contentOf.readContent(source);
      if (value === undefined) notes.push(`content of ${source} is not valid JSON: not carried`);
      else content.push([source, serializeContent(value, UNBOUNDED)]);
    }
    const entry = (await this.registry.entries()).find((e) => e.id === info.id && e.folderName === info.folder);
    return {
      ok: true,
      notes,
      image: {
        id: info.id,
        folder: info.folder,
        name: info.name,
        createdAt: info.createdAt,
        registryEntry: entry ? (entry as RegistryEntry & Record<string, unknown>) : null,
        records: doc.files,
        content,
      },
    };
  }

  /** The content readers of a project whose library is not opened (they only read its content files). */
  private unopenedStore(id: string, folder: string): Pick<MediaLibrary, 'contentSources' | 'readContent'> {
    const logger = pino({ level: 'silent' });
    const store = new ProjectStore(id, join(this.projectsDir, folder), {
      fs: realFs,
      logger,
      counters: new WorkerCounters(),
      lockTimeoutMs: 5000,
      staleLockMs: 10_000,
      isThreadAlive: () => true,
    });
    return { contentSources: () => store.contentSources(), readContent: (source) => store.readContentOrNull(source) };
  }

  /** Closes every library opened. */
  async close(): Promise<void> {
    await this.backend.drain();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await realFs.stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw StorageError.from(err, 'STORAGE_IO');
  }
}
