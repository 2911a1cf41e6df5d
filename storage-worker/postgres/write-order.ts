/**
 * Writes of one process to one project, one at a time in call order. The
 * row lock alone serialises writers but not in the order they were called:
 * two calls made in order race for pool connections and for the lock, so a
 * burst of saves of one page could end with an older one. The file backend
 * keeps call order (its per-project queue); so does this. Waiting here also
 * keeps the pool's connections for other projects instead of parking them
 * all on one project's row lock.
 */
export class ProjectWriteOrder {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(projectId: string, write: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(projectId) ?? Promise.resolve()).then(write);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(projectId, tail);
    void tail.then(() => {
      if (this.tails.get(projectId) === tail) this.tails.delete(projectId);
    });
    return result;
  }
}
