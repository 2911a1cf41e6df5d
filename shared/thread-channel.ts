/**
 * How calls cross between the main thread and the storage worker: comlink
 * over a worker_threads MessagePort, with an error transfer that keeps a
 * StorageError's `code` and `details`.
 *
 * Two traps of comlink on Node (NODE20-NOTES.md) are handled here:
 * - Its types are written for the DOM; a Node MessagePort is a structurally
 *   different EventTarget, so `portEndpoint` adapts it with real types.
 * - Its built-in 'throw' handler keeps only message/name/stack, so an error's
 *   `code` and `details` would be lost.
 *
 * comlink's transfer handlers are process-wide (one Map per thread), and a
 * host that embeds mediastore may use comlink for its own workers. So the
 * 'throw' handler is not replaced but wrapped: it claims only our own errors,
 * sent as a tagged wire value, and hands everything else — a host's own
 * worker errors in both directions — to comlink's original handler untouched.
 */
import * as Comlink from 'comlink';
import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { isWireError, StorageError, type WireError } from './errors.js';

type Listener = Parameters<Endpoint['addEventListener']>[1];

/** A Node MessagePort as a comlink Endpoint. */
export function portEndpoint(port: MessagePort): Endpoint {
  // Node's MessagePort is an EventTarget whose 'message' events carry `.data`,
  // exactly what comlink reads; only the declared types differ.
  const target = port as unknown as {
    addEventListener(type: string, listener: Listener): void;
    removeEventListener(type: string, listener: Listener): void;
  };
  return {
    postMessage: (message: unknown, transfer?: readonly unknown[]) =>
      port.postMessage(message, transfer as Parameters<MessagePort['postMessage']>[1]),
    addEventListener: (type, listener) => target.addEventListener(type, listener),
    removeEventListener: (type, listener) => target.removeEventListener(type, listener),
    start: () => port.start(),
  };
}

interface ThrownValue {
  value: unknown;
}

/** The tag that marks a thrown value as ours on the wire; nothing else carries it. */
const TAG = 'mediastore.StorageError';

interface TaggedError {
  [TAG]: WireError;
}

function isTagged(wire: unknown): wire is TaggedError {
  return typeof wire === 'object' && wire !== null && TAG in wire && isWireError((wire as TaggedError)[TAG]);
}

export interface ErrorTransferOptions {
  /**
   * Claim every error thrown in this thread, not only StorageErrors. Set by
   * the storage worker, whose thread runs nothing but mediastore: there a
   * bare Error (an errno from the file system, say) is converted where its
   * `code` is still known. Never set in a host's thread.
   */
  claimEverything?: boolean;
}

let installed = false;
let claimEverything = false;

/**
 * Idempotent; must run in every thread that sends or receives storage calls.
 * The first call wins the handler; `claimEverything` may be switched on later.
 */
export function installErrorTransfer(options: ErrorTransferOptions = {}): void {
  if (options.claimEverything) claimEverything = true;
  if (installed) return;
  installed = true;
  const builtin = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<ThrownValue, unknown> | undefined;
  if (!builtin) throw new Error('comlink has no throw transfer handler to wrap');
  const handler: Comlink.TransferHandler<ThrownValue, unknown> = {
    canHandle: (value: unknown): value is ThrownValue => builtin.canHandle(value),
    serialize: (thrown) => {
      const { value } = thrown;
      if (value instanceof StorageError || claimEverything) {
        const tagged: TaggedError = { [TAG]: StorageError.from(value).toWire() };
        return [tagged, []];
      }
      return builtin.serialize(thrown);
    },
    deserialize: (wire) => {
      if (isTagged(wire)) throw StorageError.fromWire(wire[TAG]);
      return builtin.deserialize(wire);
    },
  };
  // Set under the same key, so it keeps the built-in's place in comlink's lookup order.
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}

export { Comlink };
