/**
 * An Express host (the editor's server is one), using only the installed
 * package: `mediastore` to start and call, `mediastore/express` to mount.
 * Compiled with strict TypeScript against the package's declarations, then
 * run by test/package/express-host.test.ts.
 *
 *   node express-host.js <dataDir>   → prints {"port":N} once it listens; SIGTERM closes it
 */
import express from 'express';
import { pino } from 'pino';
import { startMediaStore, StorageError, type SaveContentResult, type UsageInfo } from 'mediastore';
import { toExpress } from 'mediastore/express';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: express-host <dataDir>');

const logger = pino({ base: { host: 'express-host' } }, pino.destination(2));
const media = await startMediaStore({ dataDir, logger });

const app = express();
// mediastore first: it reads its own request bodies (JSON limits, streamed uploads).
app.use('/media', toExpress(media.api()));
app.use('/media', toExpress(media.health()));
// The host's body parser and routes come after; a host route under the same prefix still works.
app.use(express.json());
app.get('/media/host-note', (_req, res) => {
  res.json({ note: 'a host route under the same prefix' });
});
app.get('/hello', (_req, res) => {
  res.json({ hello: 'from the express host' });
});
app.post('/editor/:project/pages/:page', async (req, res, next) => {
  try {
    const saved: SaveContentResult = await media.storage.saveContent(req.params.project!, req.params.page!, req.body);
    res.json(saved);
  } catch (err) {
    next(err);
  }
});
app.get('/editor/:project/usage/:fileId', async (req, res, next) => {
  try {
    const usage: UsageInfo = await media.storage.usage(req.params.project!, req.params.fileId!);
    res.json(usage);
  } catch (err) {
    if (!(err instanceof StorageError)) return next(err);
    res.status(err.code === 'MEDIA_NOT_FOUND' || err.code === 'PROJECT_NOT_FOUND' ? 404 : 500).json({ fromHost: true, code: err.code });
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.stdout.write(`${JSON.stringify({ port: address.port, startup: media.startup })}\n`);
});

process.once('SIGTERM', () => {
  server.close();
  media.close().then(
    (drained) => {
      process.stdout.write(`${JSON.stringify({ closed: drained })}\n`);
      process.exitCode = 0;
    },
    (err: unknown) => {
      logger.error({ err }, 'close failed');
      process.exitCode = 1;
    },
  );
});
