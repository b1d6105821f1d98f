// In-memory sliding-window throttle (also used for Test connection).
// Login use: at most `perMinute` attempts per IP and per username in a sliding minute.
// Also remembers failures for usernames that do not exist, so that they "lock" exactly like real ones
// and a failed login looks the same whether or not the user exists.
export class LoginLimiter {
  private readonly hits = new Map<string, number[]>();
  private readonly phantom = new Map<string, { failures: number; lockedUntil: number }>();

  constructor(
    private readonly perMinute = 5,
    private readonly windowMs = 60_000,
  ) {}

  /** Counts an attempt; returns ms to wait when over the limit, else 0. */
  attempt(keys: string[], now = Date.now()): number {
    let wait = 0;
    for (const key of keys) {
      const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
      if (list.length >= this.perMinute) wait = Math.max(wait, this.windowMs - (now - list[0]));
      this.hits.set(key, list);
    }
    if (wait === 0) for (const key of keys) this.hits.get(key)!.push(now);
    if (this.hits.size > 10_000) this.prune(now);
    return wait;
  }

  /** A successful login proves the owner: their username's counter starts again (the IP's does not). */
  clear(key: string): void {
    this.hits.delete(key);
  }

  phantomLockedUntil(username: string, now = Date.now()): number | undefined {
    const p = this.phantom.get(username);
    return p && p.lockedUntil > now ? p.lockedUntil : undefined;
  }

  /** A failed login for a username that does not exist; returns the lock end when it now "locks". */
  phantomFailure(username: string, maxFailures: number, lockMs: number, now = Date.now()): number | undefined {
    const p = this.phantom.get(username) ?? { failures: 0, lockedUntil: 0 };
    if (p.lockedUntil && p.lockedUntil <= now) p.lockedUntil = 0;
    p.failures += 1;
    if (p.failures >= maxFailures) {
      p.failures = 0;
      p.lockedUntil = now + lockMs;
    }
    this.phantom.set(username, p);
    if (this.phantom.size > 10_000) this.phantom.clear();
    return p.lockedUntil || undefined;
  }

  private prune(now: number): void {
    for (const [k, list] of this.hits) if (list.every((t) => now - t >= this.windowMs)) this.hits.delete(k);
  }
}
