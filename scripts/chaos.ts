/**
 * `npm run chaos -- [--restarts N] [--clients N] [--projects N] [--keep] [--quiet] [--logs DIR]`
 *
 * Starts the real server (`node dist/bin/mediastore.js`, as `npm start` runs it)
 * on a temp data dir, drives it like several editor tabs do, and restarts it
 * again and again with SIGTERM, SIGUSR2, SIGINT and SIGKILL at random moments
 * — sometimes starting the next server on the same port while the old one
 * drains (a file watcher's overlap), sometimes a second server on another
 * port on the same data dir before the first has exited. After every exit it
 * validates each media.json on disk. At the end, from a clean start, it
 * verifies everything the clients were told (chaos-verify.ts), that no temp
 * or lock file of a dead process is left, and that the final clean stop
 * leaves none at all.
 *
 * Prints one summary line (restarts by signal, requests, acknowledged,
 * checks, violations, duration) and exits 1 on any violation.
 */
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findLeftovers, readMediaJson } from './chaos-disk.js';
import { EditorClient } from './chaos-editor.js';
import { ChaosHttp } from './chaos-http.js';
import { ChaosLedger } from './chaos-ledger.js';
import { ChaosReport } from './chaos-report.js';
import { Fleet, type ServerProcess } from './chaos-servers.js';
import { verifyFinalState } from './chaos-verify.js';

interface Options {
  restarts: number;
  clients: number;
  projects: number;
  keep: boolean;
  quiet: boolean;
  logDir: string | undefined;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGUSR2', 'SIGINT', 'SIGKILL'];
/** A graceful stop must finish well within the server's deadline (10 s by default). */
const EXIT_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 20_000;
/** leftover-sweep.ts keeps a dead pid's temp file younger than this (5 s), plus a margin */
const TEMP_MIN_AGE_MS = 5500;

function parseArgs(argv: string[]): Options {
  const opts: Options = { restarts: 200, clients: 4, projects: 2, keep: false, quiet: false, logDir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`Expected \`${arg}\` to be followed by a positive integer, got ${argv[i]}`);
      return n;
    };
    if (arg === '--restarts') opts.restarts = next();
    else if (arg === '--clients') opts.clients = next();
    else if (arg === '--projects') opts.projects = next();
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--quiet') opts.quiet = true;
    else if (arg === '--logs') opts.logDir = argv[++i];
    else throw new Error(`Unknown option ${arg}; expected --restarts N, --clients N, --projects N, --keep, --quiet, --logs DIR`);
  }
  return opts;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

function pickSignal(): NodeJS.Signals {
  return SIGNALS[Math.floor(Math.random() * SIGNALS.length)]!;
}

class ChaosRun {
  readonly report = new ChaosReport();
  readonly ledger = new ChaosLedger();
  private readonly fleet: Fleet;
  readonly http: ChaosHttp;
  private readonly projects: string[] = [];
  private stopped = false;
  private lastKillAt = 0;

  constructor(
    private readonly opts: Options,
    private readonly dataDir: string,
    private readonly ports: [number, number],
    entry: string,
  ) {
    this.fleet = new Fleet({
      entry,
      dataDir,
      env: { LOG_LEVEL: 'info', SHUTDOWN_DEADLINE_MS: '10000' },
      ...(opts.logDir ? { logDir: opts.logDir } : {}),
      onProblem: (server, line) => this.report.violate(`log of server #${server.seq} (pid ${server.pid}): ${line.slice(0, 500)}`),
      onLogLine: (_server, line) => {
        if (line.msg === 'removed leftovers of dead processes') this.report.sweepsWithFindings += 1;
        if (line.msg === 'took over a stale media.json lock') this.report.staleLockTakeovers += 1;
      },
    });
    this.http = new ChaosHttp(this.fleet, this.report);
  }

  private log(text: string): void {
    if (!this.opts.quiet) console.log(text);
  }

  async run(): Promise<void> {
    const first = await this.start(this.ports[0]);
    if (!first) return;
    for (let p = 0; p < this.opts.projects; p++) {
      const id = `chaos-${p + 1}`;
      const res = await this.http.send({ method: 'POST', path: '/api/projects', json: { name: `Chaos ${p + 1}`, id }, what: `create ${id}` });
      if (!this.report.check(res.status === 201, () => `create project ${id}: status ${res.status}`)) return;
      this.projects.push(id);
    }
    const clients = Array.from(
      { length: this.opts.clients },
      (_, i) => new EditorClient(i + 1, this.projects[i % this.projects.length]!, this.http, this.ledger, this.report),
    );
    const running = clients.map((c) => c.run(() => this.stopped));

    try {
      for (let r = 1; r <= this.opts.restarts; r++) {
        await sleep(80 + Math.random() * 520);
        await this.restartOnce();
        if (r % 20 === 0) this.log(`… ${r}/${this.opts.restarts} restarts, ${this.report.acknowledged} acknowledged, ${this.report.violations.length} violations`);
      }
    } finally {
      this.stopped = true;
      await Promise.all(running);
    }

    // Stop everything gracefully, then the clean final start.
    for (const s of this.fleet.alive()) this.fleet.signal(s, 'SIGTERM');
    for (const s of this.fleet.alive()) await this.awaitExit(s);
    // The start-up sweep keeps a dead process's temp file while it is younger
    // than 5 s (it cannot tell a dead pid from one on another host sharing
    // the folder); give the last SIGKILL's leftovers that age first.
    const sinceKill = Date.now() - this.lastKillAt;
    if (sinceKill < TEMP_MIN_AGE_MS) await sleep(TEMP_MIN_AGE_MS - sinceKill);
    const final = await this.start(this.ports[0]);
    if (!final) return;
    await this.checkLeftovers((pid) => pid !== final.pid, 'after the clean final start');
    await verifyFinalState(this.http, this.ledger, this.report, this.dataDir, this.projects);
    this.fleet.signal(final, 'SIGTERM');
    await this.awaitExit(final);
    await this.checkMediaFiles('after the final stop');
    await this.checkLeftovers(() => true, 'after the final clean stop');
  }

  /** One restart: a signal at a random moment, in one of three ways of overlapping. */
  private async restartOnce(): Promise<void> {
    const victim = this.fleet.ready()[0];
    if (!victim) {
      await this.start(this.ports[0]);
      return;
    }
    const signal = pickSignal();
    const mode = Math.random();
    this.report.restartsBySignal[signal] = (this.report.restartsBySignal[signal] ?? 0) + 1;
    if (mode < 0.07) {
      // A server stopped while it is still starting (sweeping, opening projects).
      const other = this.ports[0] === victim.port ? this.ports[1] : this.ports[0];
      const early = this.fleet.spawn(other);
      await sleep(Math.random() * 400);
      this.fleet.signal(early, signal);
      await this.awaitExit(early);
    } else if (mode < 0.25) {
      // A second server on the other port, on the same data dir, serving
      // alongside the first for a moment before the first is stopped.
      this.report.overlaps += 1;
      const other = this.ports[0] === victim.port ? this.ports[1] : this.ports[0];
      const second = await this.start(other);
      await sleep(Math.random() * 400);
      this.fleet.signal(victim, signal);
      await this.awaitExit(victim);
      if (!second) await this.start(victim.port);
    } else if (mode < 0.5) {
      // The watcher's overlap: the successor starts on the same port at once,
      // while the old process drains (it has to free the port first).
      this.report.overlaps += 1;
      this.fleet.signal(victim, signal);
      const successor = this.start(victim.port);
      await this.awaitExit(victim);
      await successor;
    } else {
      this.fleet.signal(victim, signal);
      await this.awaitExit(victim);
      await this.start(victim.port);
    }
  }

  private async start(port: number): Promise<ServerProcess | null> {
    const server = this.fleet.spawn(port);
    // Unref'd: a timer left pending must not keep the harness alive after the run.
    const timer = sleep(READY_TIMEOUT_MS, 'timeout' as const, { ref: false });
    const ready = await Promise.race([server.ready.then(() => 'ready' as const, () => 'exited' as const), timer]);
    if (ready === 'ready') return server;
    if (ready === 'timeout') {
      this.report.violate(`server #${server.seq} (pid ${server.pid}) on port ${port} not ready after ${READY_TIMEOUT_MS} ms`);
      this.fleet.signal(server, 'SIGKILL');
      await server.exited;
      return null;
    }
    // Exited before ready: killed during start-up by the harness (fine), or it failed.
    const exit = await server.exited;
    this.report.check(server.signalSent !== undefined, () => `server #${server.seq} exited during start-up on its own: ${JSON.stringify(exit)}`);
    return null;
  }

  /** Waits for a signalled server to exit, checks how it exited, then validates media.json on disk. */
  private async awaitExit(server: ServerProcess): Promise<void> {
    const timeout = sleep(EXIT_TIMEOUT_MS, null, { ref: false });
    const exit = await Promise.race([server.exited, timeout]);
    if (exit === null) {
      this.report.violate(`server #${server.seq} (pid ${server.pid}) still running ${EXIT_TIMEOUT_MS} ms after ${server.signalSent}`);
      server.child.kill('SIGKILL');
      await server.exited;
    } else {
      const sent = server.signalSent;
      const expected = [sent === 'SIGKILL' || sent === 'SIGUSR2' ? `signal ${sent}` : 'code 0'];
      // In its first milliseconds node has not installed the handlers yet: the default action is fine.
      if (server.readyAt === undefined) expected.push(`signal ${sent}`);
      const got = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      this.report.check(expected.includes(got), () => `server #${server.seq} (pid ${server.pid}) after ${sent}: exited with ${got}, expected ${expected.join(' or ')}`);
    }
    if (server.signalSent === 'SIGKILL') this.lastKillAt = Date.now();
    await this.checkMediaFiles(`after server #${server.seq} got ${server.signalSent}`);
  }

  private async checkMediaFiles(when: string): Promise<void> {
    for (const project of this.projects) await readMediaJson(this.dataDir, project, this.report, when);
  }

  private async checkLeftovers(counts: (pid: number | null) => boolean, when: string): Promise<void> {
    const leftovers = (await findLeftovers(this.dataDir)).filter((l) => l.kind === 'quarantine' || counts(l.pid));
    this.report.check(leftovers.length === 0, () => `${when}: left behind ${JSON.stringify(leftovers)}`);
  }

  async cleanup(): Promise<void> {
    this.stopped = true;
    await this.fleet.killAll();
    await this.http.close();
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const here = dirname(fileURLToPath(import.meta.url));
  const entry = resolve(here, '..', 'bin', 'mediastore.js');
  if (!existsSync(entry)) throw new Error(`${entry} not found: build first (npm run build)`);
  const dataDir = await mkdtemp(join(tmpdir(), 'mediastore-chaos-'));
  const ports: [number, number] = [await freePort(), await freePort()];
  const run = new ChaosRun(opts, dataDir, ports, entry);
  // Stopped from outside (Ctrl-C, a test's timeout): the servers are our
  // children and must not outlive the harness.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`chaos: ${signal}, stopping servers (data dir kept: ${dataDir})`);
      void run.cleanup().finally(() => process.exit(130));
    });
  }
  if (!opts.quiet) console.log(`chaos: ${opts.restarts} restarts, ${opts.clients} clients, ${opts.projects} projects, data dir ${dataDir}, ports ${ports.join(' and ')}`);
  try {
    await run.run();
  } catch (err) {
    run.report.violate(`harness failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await run.cleanup();
  }
  const { report } = run;
  console.log(report.summaryLine());
  if (report.violations.length > 50) console.log(`(${report.violations.length - 50} more violations not printed)`);
  if (opts.keep || report.violations.length > 0) console.log(`data dir kept: ${dataDir}`);
  else await rm(dataDir, { recursive: true, force: true });
  process.exitCode = report.violations.length === 0 ? 0 : 1;
}

await main();
