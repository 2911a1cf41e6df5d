/** loadConfig: safe defaults, parsing of sizes/lists/origins, and refusals of bad values. */
import { resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/config.js';
import { StorageError } from '../../shared/errors.js';

const Config = suite('server config');
const MB = 1024 * 1024;

Config('defaults: loopback, port 3001, ./data, caps, 2 MB JSON, 10 s shutdown', () => {
  const c = loadConfig({});
  assert.is(c.port, 3001);
  assert.is(c.host, '127.0.0.1');
  assert.is(c.dataDir, resolve('./data'));
  assert.is(c.logLevel, 'info');
  assert.equal(c.uploadLimits, { image: 5 * MB, video: 50 * MB, audio: 25 * MB, pdf: 10 * MB });
  assert.is(c.maxFilesPerRequest, 10);
  assert.is(c.jsonBodyLimit, 2 * MB);
  assert.equal(c.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
  assert.equal(c.allowedOrigins, []);
  assert.equal(c.corsOrigins, []);
  assert.is(c.shutdownDeadlineMs, 10_000);
  assert.ok(c.maxRequestBytes >= c.uploadLimits.video);
});

Config('environment values are parsed', () => {
  const c = loadConfig({
    PORT: '8080',
    HOST: '192.168.1.5',
    DATA_DIR: '/srv/media',
    LOG_LEVEL: 'DEBUG',
    UPLOAD_MAX_IMAGE_BYTES: '2mb',
    UPLOAD_MAX_VIDEO_BYTES: '1.5 MB',
    UPLOAD_MAX_AUDIO_BYTES: '512kb',
    UPLOAD_MAX_PDF_BYTES: '1000',
    JSON_BODY_LIMIT: '64kb',
    CORS_ORIGINS: 'http://localhost:5173/, https://editor.example',
    ALLOWED_ORIGINS: 'http://a.test:1',
    SHUTDOWN_DEADLINE_MS: '2500',
  });
  assert.is(c.port, 8080);
  assert.is(c.dataDir, '/srv/media');
  assert.is(c.logLevel, 'debug');
  assert.equal(c.uploadLimits, { image: 2 * MB, video: Math.floor(1.5 * MB), audio: 512 * 1024, pdf: 1000 });
  assert.is(c.jsonBodyLimit, 64 * 1024);
  assert.equal(c.corsOrigins, ['http://localhost:5173', 'https://editor.example']);
  assert.equal(c.allowedOrigins, ['http://a.test:1']);
  assert.is(c.shutdownDeadlineMs, 2500);
  // Binding a specific address means being reached by it.
  assert.equal(c.allowedHosts, ['localhost', '127.0.0.1', '[::1]', '192.168.1.5']);
  assert.equal(loadConfig({ HOST: '0.0.0.0' }).allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
  assert.equal(loadConfig({ ALLOWED_HOSTS: 'Media.Local, *' }).allowedHosts, ['media.local', '*']);
});

Config('bad values are refused with INVALID_INPUT naming the variable', () => {
  const bad: NodeJS.ProcessEnv[] = [
    { PORT: 'http' },
    { PORT: '70000' },
    { LOG_LEVEL: 'loud' },
    { UPLOAD_MAX_IMAGE_BYTES: '5 parsecs' },
    { JSON_BODY_LIMIT: '0' },
    { CORS_ORIGINS: 'not a url' },
    { ALLOWED_ORIGINS: 'ftp://x.test' },
    { SHUTDOWN_DEADLINE_MS: '-1' },
  ];
  for (const env of bad) {
    const name = Object.keys(env)[0]!;
    try {
      loadConfig(env);
      assert.unreachable(`${name} accepted`);
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).code, 'INVALID_INPUT');
      assert.is((err as StorageError).details?.variable, name);
      assert.match((err as Error).message, name);
    }
  }
});

Config.run();
