/**
 * Decides what an upload is from its first bytes (file-type), never from the
 * client's name or Content-Type. SVG is text, which file-type does not
 * identify: a body that starts like XML is only a *candidate* here, and the
 * SVG inspector decides after parsing the whole document.
 */
import { fileTypeFromBuffer } from 'file-type';
import { acceptedByMime, type AcceptedType } from './media-kinds.js';

/** Bytes file-type needs to recognise the formats we accept. */
export const SNIFF_BYTES = 4100;

export type Sniffed =
  | { verdict: 'accepted'; type: AcceptedType }
  | { verdict: 'svg-candidate' }
  | { verdict: 'unsupported'; detected: string };

export async function sniff(head: Uint8Array): Promise<Sniffed> {
  if (head.byteLength === 0) return { verdict: 'unsupported', detected: 'an empty file' };
  const found = await fileTypeFromBuffer(head);
  if (found !== undefined && found.mime !== 'application/xml') {
    const type = acceptedByMime(found.mime);
    return type ? { verdict: 'accepted', type } : { verdict: 'unsupported', detected: `${found.mime} (.${found.ext})` };
  }
  return looksLikeXml(head) ? { verdict: 'svg-candidate' } : { verdict: 'unsupported', detected: 'an unrecognised format' };
}

/** UTF-8 text (optional BOM) whose first non-blank character opens a tag. */
function looksLikeXml(head: Uint8Array): boolean {
  let text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return /^\s*</.test(text) && !text.includes('\u0000');
}
