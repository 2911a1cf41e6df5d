/**
 * Measures how deeply a JSON text nests while its bytes arrive, before it is
 * parsed: a linear scan with no recursion, keeping only a counter and whether
 * it is inside a string (where brackets are text). Scanning bytes is safe
 * for UTF-8: every byte of a multi-byte character is ≥ 0x80, so none of them
 * can be mistaken for a quote, backslash or bracket.
 *
 * A body that nests too deeply is refused whatever else is wrong with it; a
 * closing bracket with nothing open (invalid JSON, which the parser refuses)
 * does not lower the count below zero, so it cannot buy extra depth.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

export class JsonNestingScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(readonly maxDepth: number) {}

  /** Scans the next bytes; false once the nesting has passed `maxDepth`. */
  feed(bytes: Uint8Array): boolean {
    let { depth, inString, escaped } = this;
    const max = this.maxDepth;
    let ok = true;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
      } else if (b === QUOTE) {
        inString = true;
      } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
        if (++depth > max) {
          ok = false;
          break;
        }
      } else if ((b === CLOSE_ARRAY || b === CLOSE_OBJECT) && depth > 0) {
        depth--;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return ok;
  }
}
