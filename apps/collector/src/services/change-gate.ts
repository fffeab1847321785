// Decides whether a room's freshly computed state is worth pushing: only when it changed
// since the last push, and never more often than minIntervalMs per room. The caller
// passes the clock, so the rule is testable without timers.
export interface ChangeGate {
  /** True when `fingerprint` differs from the last pushed one and the room may push now. */
  shouldPush(room: string, fingerprint: string, nowMs: number): boolean;
  forget(room: string): void;
  readonly size: number;
}

export function createChangeGate(minIntervalMs: number): ChangeGate {
  const last = new Map<string, { fingerprint: string; atMs: number }>();
  return {
    shouldPush(room, fingerprint, nowMs) {
      const prev = last.get(room);
      if (prev && prev.fingerprint === fingerprint) return false;
      if (prev && nowMs - prev.atMs < minIntervalMs) return false;
      last.set(room, { fingerprint, atMs: nowMs });
      return true;
    },
    forget(room) {
      last.delete(room);
    },
    get size() {
      return last.size;
    },
  };
}

/** JSON with bigint as decimal strings and without the volatile `at` timestamp. */
export function fingerprintOf(state: object): string {
  return JSON.stringify(state, (key, value: unknown) => {
    if (key === "at") return undefined;
    return typeof value === "bigint" ? value.toString() : value;
  });
}
