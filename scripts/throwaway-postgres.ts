/**
 * A throwaway PostgreSQL for one test file, or for one bench run.
 *
 * - With `MEDIASTORE_TEST_DATABASE_URL` set: a fresh database on that server
 *   (CREATE DATABASE, dropped at the end).
 * - Otherwise: a server of its own from the machine's binaries
 *   (`/usr/lib/postgresql/<version>/bin`, else `initdb` on PATH) in a temp dir,
 *   on a free port of 127.0.0.1, stopped and removed at the end. PostgreSQL
 *   refuses to run as root, so as root the binaries run as `postgres`
 *   (runuser) in a dir that user owns.
 *
 * `ownServer: true` always starts one (a test that stops and starts the
 * server cannot do that to a shared one). `durable: true` runs it with
 * `fsync=on` (the bench: commits cost what they cost in production). When no server can be had, this
 * throws with the reason: a test that needs PostgreSQL fails, never skips.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** a database of this test file's own */
  url: string;
  /** another fresh database on the same server (tests that must not see each other's rows) */
  freshDatabase(label: string): Promise<string>;
  /** present when this helper started the server */
  server: OwnServer | null;
  close(): Promise<void>;
}

export interface OwnServer {
  /** `pg_ctl stop -m immediate`: the server dies as in a crash, connections drop at once */
  stopImmediately(): Promise<void>;
  /** starts it again on the same port and data */
  start(): Promise<void>;
}

export async function startTestPostgres(label: string, options: { ownServer?: boolean; durable?: boolean } = {}): Promise<TestPostgres> {
  const external = process.env.MEDIASTORE_TEST_DATABASE_URL;
  if (external && !options.ownServer) {
    const created: string[] = [];
    const fresh = (name: string) => createDatabase(external, name, created);
    return {
      url: await fresh(label),
      freshDatabase: fresh,
      server: null,
      close: () => dropDatabases(external, created),
    };
  }
  const server = await LocalServer.start(label, options.durable ?? false);
  const fresh = (name: string) => createDatabase(server.adminUrl, name, []);
  try {
    return { url: await fresh(label), freshDatabase: fresh, server, close: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}

async function createDatabase(adminUrl: string, label: string, created: string[]): Promise<string> {
  const name = `mediastore_${label.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}_${process.pid}_${created.length}_${Date.now() % 1e6}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch (err) {
    throw new Error(`PostgreSQL for tests: cannot create a database on ${redact(adminUrl)}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.end().catch(() => undefined);
  }
  created.push(name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabases(adminUrl: string, names: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

class LocalServer implements OwnServer {
  private stopped = true;
  private readonly onExit = () => {
    // The file is ending without `close` (a crash): do not leave a server behind.
    if (!this.stopped) spawnSync(...this.command('pg_ctl', ['-D', this.data, '-w', 'stop', '-m', 'immediate']), { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly port: number,
    private readonly asPostgres: boolean,
    private readonly durable: boolean,
  ) {}

  get data(): string {
    return join(this.dir, 'data');
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(label: string, durable: boolean): Promise<LocalServer> {
    const bin = await findBinaries();
    const asPostgres = process.getuid?.() === 0;
    const dir = await makeTempDir(`pg-${label}`);
    if (asPostgres) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      if (!Number.isInteger(uid) || uid <= 0) {
        await removeTempDir(dir);
        throw new Error('PostgreSQL for tests: running as root, but there is no `postgres` user to run the server as');
      }
      await chown(dir, uid, gid);
    }
    const server = new LocalServer(bin, dir, await freePort(), asPostgres, durable);
    try {
      await server.exec('initdb', ['-D', server.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
      await server.start();
    } catch (err) {
      await server.close();
      throw err;
    }
    process.on('exit', server.onExit);
    return server;
  }

  async start(): Promise<void> {
    // fsync=off: the tests crash processes, never the machine; the OS keeps what PostgreSQL wrote.
    // (synchronous_commit stays on: an acknowledged commit is in the WAL when the server dies.)
    const serverOptions = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=${this.durable ? 'on' : 'off'} -c max_connections=100`;
    await this.exec('pg_ctl', ['-D', this.data, '-o', serverOptions, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
    this.stopped = false;
  }

  async stopImmediately(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.data, '-w', 'stop', '-m', 'immediate']);
    this.stopped = true;
  }

  async close(): Promise<void> {
    process.off('exit', this.onExit);
    if (!this.stopped) await this.exec('pg_ctl', ['-D', this.data, '-w', 'stop', '-m', 'fast']).catch(() => undefined);
    this.stopped = true;
    await removeTempDir(this.dir);
  }

  private command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.bin, tool);
    return this.asPostgres ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const [file, argv] = this.command(tool, args);
    try {
      await run(file, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (err) {
      const log = await readFile(join(this.dir, 'log'), 'utf8').catch(() => '');
      const e = err as Error & { stderr?: string };
      throw new Error(`PostgreSQL for tests: ${tool} ${args.join(' ')} failed: ${e.stderr || e.message}\n${log.slice(-2000)}`, { cause: err });
    }
  }
}

/** The newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on PATH. */
async function findBinaries(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(
    'PostgreSQL for tests: no server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH. ' +
      'Install them (apt-get install -y postgresql; .ci/run does so as root) or set MEDIASTORE_TEST_DATABASE_URL.',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `mediastore-${label}-`));
}

async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
