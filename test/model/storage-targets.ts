/**
 * The real system as the model tests drive it: a StorageApi call by name,
 * answered as an Outcome (value as JSON, or the StorageError code). One
 * target runs the StorageClient in this process, the other sends the call
 * to a child process with its own StorageClient (test/fixtures/model-child.ts).
 */
import { StorageClient } from '../../client/storage-client.js';
import { StorageError } from '../../shared/errors.js';
import { JsonLineChild } from '../fixtures/json-line-child.js';
import type { Outcome } from './library-model.js';

export interface StorageTarget {
  readonly name: string;
  call(method: string, args: unknown[]): Promise<Outcome>;
  close(): Promise<void>;
}

/** Values as they would cross a process boundary, so both targets answer alike. */
function asJson(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

export class InProcessTarget implements StorageTarget {
  readonly name = 'this process';
  private constructor(
    private readonly client: StorageClient,
    private readonly owned: boolean,
  ) {}

  static async start(dataDir: string): Promise<InProcessTarget> {
    return new InProcessTarget(await StorageClient.start({ dataDir, logLevel: 'silent' }), true);
  }

  /** A client someone else started (and closes), e.g. the one behind a test server. */
  static wrap(client: StorageClient): InProcessTarget {
    return new InProcessTarget(client, false);
  }

  async call(method: string, args: unknown[]): Promise<Outcome> {
    const fn = (this.client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    if (typeof fn !== 'function') throw new Error(`StorageClient has no ${method}`);
    try {
      return { ok: true, value: asJson(await fn.apply(this.client, args)) };
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      return { ok: false, code: err.code };
    }
  }

  async close(): Promise<void> {
    if (this.owned) await this.client.close();
  }
}

export class ChildTarget implements StorageTarget {
  private nextId = 0;
  private constructor(
    readonly name: string,
    private readonly child: JsonLineChild,
  ) {}

  static async start(dataDir: string, name: string): Promise<ChildTarget> {
    const child = new JsonLineChild('model-child', [dataDir]);
    try {
      await child.waitFor('ready', 30_000);
    } catch (err) {
      await child.kill();
      throw err;
    }
    return new ChildTarget(name, child);
  }

  async call(method: string, args: unknown[]): Promise<Outcome> {
    const id = ++this.nextId;
    this.child.send(JSON.stringify({ id, method, args }));
    const line = await this.child.next(`r${id}`, 30_000);
    return line.ok === true ? { ok: true, value: line.value } : { ok: false, code: String(line.code) };
  }

  async close(): Promise<void> {
    this.child.proc.stdin.end();
    try {
      await this.child.finished(15_000);
    } finally {
      await this.child.kill();
    }
  }
}
