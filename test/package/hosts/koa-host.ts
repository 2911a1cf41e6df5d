/**
 * A Koa host as the editor's server would be written, using only the
 * installed package (`mediastore`): compiled with strict TypeScript against
 * the package's declarations, then run by test/package/koa-host.test.ts.
 *
 *   node koa-host.js <dataDir>   → prints {"port":N} once it listens; SIGTERM closes it
 */
import Router from '@koa/router';
import Koa from 'koa';
import { pino } from 'pino';
import { startMediaStore, StorageError, type SaveContentResult, type UsageInfo } from 'mediastore';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: koa-host <dataDir>');

// The host's own logger (stderr, so stdout carries only this program's answers); mediastore's lines join it.
const logger = pino({ base: { host: 'koa-host' } }, pino.destination(2));
const media = await startMediaStore({ dataDir, logger });

async function readJson(req: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.from(chunk as Buffer));
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const router = new Router();
router.get('/hello', (ctx) => {
  ctx.body = { hello: 'from the koa host' };
});
// The host's own handler saves a page through the typed client.
router.post('/editor/:project/pages/:page', async (ctx) => {
  const saved: SaveContentResult = await media.storage.saveContent(ctx.params.project!, ctx.params.page!, await readJson(ctx.req));
  ctx.body = saved;
});
router.get('/editor/:project/usage/:fileId', async (ctx) => {
  try {
    const usage: UsageInfo = await media.storage.usage(ctx.params.project!, ctx.params.fileId!);
    ctx.body = usage;
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    ctx.status = err.code === 'MEDIA_NOT_FOUND' || err.code === 'PROJECT_NOT_FOUND' ? 404 : 500;
    ctx.body = { fromHost: true, code: err.code };
  }
});

const app = new Koa();
app.use(router.routes());
app.use(media.api({ prefix: '/media' }));
app.use(media.health({ prefix: '/media' }));

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.stdout.write(`${JSON.stringify({ port: address.port, startup: media.startup })}\n`);
});

// The host owns its signals; mediastore installed none.
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
