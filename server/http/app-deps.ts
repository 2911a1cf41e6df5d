import type { Middleware } from 'koa';
import type Router from '@koa/router';
import type { HostLogger } from '../../shared/host-logger.js';
import type { StorageApi } from '../../shared/storage-api.js';
import type { HttpLimits, ServerConfig } from '../config.js';
import type { BlobStore } from '../blob-store/blob-store.js';
import type { UploadFs } from '../upload/upload-fs.js';
import type { NameClaim } from '../upload/upload-name-claim.js';
import type { AppState } from './app-state.js';

/** What the media routes need: an embedding host's mount (server/media-api.ts) builds it too. */
export interface RouteDeps {
  storage: StorageApi;
  /** absolute; binaries live in `<dataDir>/projects/<projectId>/uploads/<folder>/` */
  dataDir: string;
  config: HttpLimits;
  logger: HostLogger;
  /** The fsyncs of uploaded files and folders; tests record them (default: the real ones). */
  uploadFs?: UploadFs;
  /** Where binaries live (default: the upload folders under `dataDir`). */
  blobs?: BlobStore;
  /** How upload names are claimed: `storage-record` with a database backend (default `exclusive-create`). */
  uploadNameClaim?: NameClaim;
}

/** What `createApp` needs; tests build it with a temp data dir and a real StorageClient. */
export interface AppDeps extends RouteDeps {
  config: ServerConfig;
  /**
   * One line per request (issue 4). Runs outside the error responder, so it
   * sees the final status and the request id of every request.
   */
  requestLog?: Middleware<AppState>;
  /** HTTP metrics (issue 4); same position as `requestLog`. */
  httpMetrics?: Middleware<AppState>;
  /** Serves `GET /metrics` when given (behind the Host check like every route). */
  metricsRoute?: Middleware<AppState>;
}

export type AppRouter = Router<AppState>;
