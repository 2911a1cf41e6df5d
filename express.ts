/**
 * `import { toExpress } from 'mediastore/express'`: mounts the media API (or
 * health, or metrics) in an Express host. See server/express-adapter.ts.
 */
export { toExpress } from './server/express-adapter.js';
export type { ExpressHandler } from './server/express-adapter.js';
