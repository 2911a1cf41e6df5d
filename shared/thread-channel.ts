/**
 * How calls cross between the main thread and the storage worker: comlink
 * over a worker_threads MessagePort, with our own 'throw' transfer handler.
 *
 * Two traps of comlink on Node (NODE20-NOTES.md) are handled here:
 * - Its types are written for the DOM; a Node MessagePort is a structurally
 *   different EventTarget, so `portEndpoint` adapts it with real types.
 * - Its built-in 'throw' handler keeps only message/name/stack, so an error's
 *   `code` and `details` would be lost. `installErrorTransfer` replaces that
 *   handler (on BOTH sides) so a StorageError arrives as a StorageError and
 *   anything else arrives as StorageError('INTERNAL').
 */
import * as Comlink from 'comlink';
import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';
import { StorageError, type WireError } from './errors.js';

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

let installed = false;

/** Idempotent; must run in every thread that sends or receives calls. */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new Error('comlink has no throw transfer handler to replace');
  const handler: Comlink.TransferHandler<ThrownValue, WireError> = {
    canHandle: (value: unknown): value is ThrownValue => builtin.canHandle(value),
    serialize: ({ value }) => [StorageError.from(value).toWire(), []],
    deserialize: (wire) => {
      throw StorageError.fromWire(wire);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}

export { Comlink };
