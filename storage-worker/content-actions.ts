/**
 * What a batch collects for the content files it must write or remove, and
 * the exact marks each such source must have once its file is in place.
 * Operations fill it while they apply; the commit of the batch writes the
 * files (content-store.ts) and then the exact marks.
 */
export class ContentActions {
  /** source → the last action of the batch for it (later saves of a source supersede earlier ones) */
  readonly bySource = new Map<string, { kind: 'write'; text: string } | { kind: 'delete' }>();
  /** source → the file ids it marks once the batch's content files are durable */
  readonly exactUsage = new Map<string, string[]>();

  write(source: string, text: string, fileIds: string[]): void {
    this.bySource.delete(source); // keep arrival order of the final actions
    this.bySource.set(source, { kind: 'write', text });
    this.exactUsage.set(source, fileIds);
  }

  remove(source: string): void {
    this.bySource.delete(source);
    this.bySource.set(source, { kind: 'delete' });
    this.exactUsage.set(source, []);
  }

  /** A later setUsage of a source this batch also saves: its marks win. */
  overrideUsage(source: string, fileIds: string[]): void {
    if (this.exactUsage.has(source)) this.exactUsage.set(source, fileIds);
  }

  get size(): number {
    return this.bySource.size;
  }
}
