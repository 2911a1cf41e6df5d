/**
 * Media metadata (alt, title, caption, description) is plain text. Tags are
 * removed — with the contents of script/style, which are never text — until
 * none is left (nested leftovers like `<scr<script>ipt>` re-form a tag after
 * one pass). A `<` that cannot start a tag ("a < b") is kept: browsers do not
 * read it as markup either.
 */
const BLOCKS = /<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const TAG = /<\/?[a-z!?][^<>]*>/gi;
const UNCLOSED_TAG = /<\/?[a-z!?][^<>]*$/i;

export function stripHtml(value: string): string {
  let text = value;
  // Each pass only removes characters, so this ends.
  for (;;) {
    const next = text.replace(BLOCKS, '').replace(TAG, '').replace(UNCLOSED_TAG, '');
    if (next === text) break;
    text = next;
  }
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '').trim();
}
