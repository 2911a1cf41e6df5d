/**
 * The package's public entry (`import … from 'mediastore'`): everything a
 * host needs for the three moves — start, mount, call — and nothing else.
 * docs/embedding.md lists and explains every export.
 */

// start / close
export { startMediaStore } from './server/media-store.js';
export type { MediaStore, MediaStoreOptions, HealthOptions, MetricsPieceOptions } from './server/media-store.js';
export type { StartupReport, StartupProblem } from './server/startup-check.js';

// mount (Koa; an Express host adds `toExpress` from 'mediastore/express')
export { mediaApi } from './server/media-api.js';
export type { MediaApiOptions } from './server/media-api.js';
export { hostGuard } from './server/http/host-guard.js';
export { originGuard } from './server/http/origin-guard.js';
export type { OriginPolicy } from './server/http/origin-guard.js';
export { ServiceMetrics } from './server/metrics.js';
export type { MetricsOptions } from './server/metrics.js';
export { DEFAULT_HTTP_LIMITS, DEFAULT_UPLOAD_LIMITS, LOOPBACK_HOSTS } from './server/config.js';
export type { HttpLimits, GuardPolicy, UploadLimits } from './server/config.js';
export type { AppState } from './server/http/app-state.js';

// call
export { StorageClient } from './client/storage-client.js';
export type { StorageClientOptions, StorageClientEvents } from './client/storage-client.js';
export type { StorageApi, StorageOptions, StorageStats, DrainResult, WorkerPing, HistogramSnapshot } from './shared/storage-api.js';
export type {
  MediaFolder,
  MediaMetadata,
  MediaSizeVariant,
  MediaRecord,
  MediaDocument,
  NewMediaRecord,
  MetadataField,
  MetadataPatch,
  UsageSource,
  ProjectInfo,
  DeleteMediaResult,
  SaveContentResult,
  UsageInfo,
  RefreshUsageResult,
} from './shared/media-types.js';
export { THEME_SOURCE, globalSource } from './shared/media-types.js';

// errors
export { StorageError, STORAGE_ERROR_CODES, isStorageErrorCode } from './shared/errors.js';
export type { StorageErrorCode, ErrorDetails, WireError } from './shared/errors.js';

// logging
export type { HostLogger, LogMethod, LogLevel } from './shared/host-logger.js';
