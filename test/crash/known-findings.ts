/**
 * Invariants the explorer finds broken on the current commit protocol, with
 * why. A finding listed here is reported but does not fail the run, so the
 * run stays a guard against *new* breakage; a listed finding that no longer
 * occurs fails the run, so a fix also removes its entry here (and the
 * explorer then proves the fix on every crash state).
 */
export interface KnownFinding {
  /** the scenario where it occurs (exact name); none: any scenario (it must occur in at least one) */
  scenario?: string;
  /** matches the violation's problem text */
  problem: RegExp;
  why: string;
}

export const KNOWN_FINDINGS: KnownFinding[] = [
  {
    problem: /^on disk: media\.json\.lock holds no stamp/,
    why:
      'the lock stamp is written to its temp file and link()ed into place without an fsync: after a power cut ' +
      'the lock name can be on disk with its bytes lost (ext4 delayed allocation: an empty file). Nothing is lost, ' +
      'but the next start cannot judge the holder and waits for the lock to grow stale: measured, the first ' +
      'open of the project fails with LOCK_TIMEOUT after 5 s (default staleLockMs 10 s). ' +
      'Fix: fsync the stamp before the link (one fsync per acquisition), or count an unreadable lock as dead ' +
      '(a link()-published lock is never seen incomplete except after a crash).',
  },
];
