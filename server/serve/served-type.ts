/**
 * The Content-Type a stored file is served with: decided from its bytes, the
 * same way uploads are (sniff.ts against the upload allowlist), never from
 * the record. A record's `type` is what the browser declared when the file
 * was uploaded, so a legacy record typed `text/html` would otherwise be
 * served as a page on the editor's own origin.
 *
 * SVG is text, which the bytes alone cannot name: a file is served as SVG
 * only when its bytes look like XML *and* its name ends in `.svg` (send-file
 * then adds the sandboxing CSP, so even an HTML file named `.svg` cannot run
 * script). Everything else is opaque bytes, served as a download.
 */
import type { FileHandle } from 'node:fs/promises';
import { acceptedByExtension, SVG_TYPE } from '../upload/media-kinds.js';
import { SNIFF_BYTES, sniff } from '../upload/sniff.js';

export interface ServedType {
  contentType: string;
  /** served with `Content-Disposition: attachment` */
  download: boolean;
}

const OPAQUE: ServedType = { contentType: 'application/octet-stream', download: true };

export async function servedTypeOf(handle: FileHandle, filename: string): Promise<ServedType> {
  const head = Buffer.alloc(SNIFF_BYTES);
  const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
  const sniffed = await sniff(head.subarray(0, bytesRead));
  if (sniffed.verdict === 'accepted' && sniffed.type !== SVG_TYPE) return { contentType: sniffed.type.mime, download: false };
  if (sniffed.verdict === 'svg-candidate' && extensionType(filename) === SVG_TYPE) return { contentType: SVG_TYPE.mime, download: false };
  return OPAQUE;
}

function extensionType(filename: string): ReturnType<typeof acceptedByExtension> {
  const dot = filename.lastIndexOf('.');
  return dot >= 0 ? acceptedByExtension(filename.slice(dot + 1)) : undefined;
}
