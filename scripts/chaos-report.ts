/**
 * What a chaos run counts and what it found: restarts by signal, requests
 * sent and acknowledged, checks made, and every violation with enough detail
 * to find it in the server logs.
 */
export class ChaosReport {
  readonly restartsBySignal: Record<string, number> = { SIGTERM: 0, SIGUSR2: 0, SIGINT: 0, SIGKILL: 0 };
  overlaps = 0;
  requests = 0;
  acknowledged = 0;
  /** attempts repeated after a refused/reset connection or a 503 */
  retries = 0;
  excused503 = 0;
  checks = 0;
  /** start-up sweeps that found something to clean (from the servers' start-up lines) */
  sweepsWithFindings = 0;
  staleLockTakeovers = 0;
  readonly violations: string[] = [];
  private readonly startedAt = Date.now();

  /** One check; records a violation when `ok` is false. Returns `ok`. */
  check(ok: boolean, describe: () => string): boolean {
    this.checks += 1;
    if (!ok) this.violate(describe());
    return ok;
  }

  violate(text: string): void {
    this.violations.push(text);
    // Print as they happen: a long run that ends badly should show when it went wrong.
    if (this.violations.length <= 50) console.error(`VIOLATION ${this.violations.length}: ${text}`);
  }

  get restarts(): number {
    return Object.values(this.restartsBySignal).reduce((a, b) => a + b, 0);
  }

  summaryLine(): string {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const bySignal = Object.entries(this.restartsBySignal)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ');
    return (
      `chaos summary: restarts ${this.restarts} (${bySignal}; overlapping servers ${this.overlaps}), ` +
      `requests ${this.requests}, acknowledged ${this.acknowledged}, retried ${this.retries}, 503 in restart windows ${this.excused503}, ` +
      `checks ${this.checks}, violations ${this.violations.length}, ${seconds} s`
    );
  }
}
