/**
 * The one deadline: `work`, or whatever `onExpiry` gives (or throws) once
 * `ms` have passed without an answer. The timer is always cleared, so a
 * fast answer leaves nothing that keeps the process alive. `work` is not
 * cancelled (a storage call cannot be): its late answer is ignored.
 */
export function withDeadline<T, E = never>(work: PromiseLike<T>, ms: number, onExpiry: () => E): Promise<T | E> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<E>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onExpiry());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([work, expiry]).finally(() => clearTimeout(timer));
}
