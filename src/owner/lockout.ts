/**
 * The status page's lockout after wrong owner secrets: one counter for the whole device, with a
 * backoff that doubles from 30 s to 1 h. Pure: state in, state out, time as an argument.
 * @module
 */

/** Wrong secrets in a row before the first lockout. */
export const LOCKOUT_AFTER_FAILURES = 5;
/** The first lockout; each further one doubles it: 30 s, 1 min, 2 min, … */
export const LOCKOUT_BASE_MS = 30_000;
/** The longest lockout: 30 s · 2^7 = 64 min, capped at 1 h, reached after 8 lockouts. */
export const LOCKOUT_MAX_MS = 60 * 60 * 1000;
/** A day without a wrong secret forgets past lockouts, so one typo months later costs nothing. */
export const LOCKOUT_FORGET_MS = 24 * 60 * 60 * 1000;

/** The lockout state; the page keeps one (global, not per source: see docs/owner-page.md). */
export interface LockoutState {
  /** Wrong secrets since the last lockout (or the last right one). */
  readonly failures: number;
  /** Lockouts so far; the next lasts 30 s · 2^level. */
  readonly level: number;
  /** Monotonic ms until which every secret check is refused; 0 when none. */
  readonly lockedUntilMs: number;
  /** Monotonic ms of the last wrong secret; -Infinity when none. */
  readonly lastFailureMs: number;
}

/** No failures, no lockout. */
export const INITIAL_LOCKOUT: LockoutState = Object.freeze({
  failures: 0,
  level: 0,
  lockedUntilMs: 0,
  lastFailureMs: Number.NEGATIVE_INFINITY,
});

/** Milliseconds left of the lockout at `nowMs`, 0 when secrets may be checked. */
export function lockoutRemainingMs(state: LockoutState, nowMs: number): number {
  return Math.max(0, state.lockedUntilMs - nowMs);
}

/**
 * The state after a wrong secret at `nowMs`, and the new lockout's length when this one engaged
 * it. After a lockout has run out, the next wrong secret locks again at once, for twice as long.
 * @example recordFailure(INITIAL_LOCKOUT, 0) // { state: { failures: 1, … }, engagedMs: 0 }
 */
export function recordFailure(
  state: LockoutState,
  nowMs: number,
): { state: LockoutState; engagedMs: number } {
  const base = nowMs - state.lastFailureMs >= LOCKOUT_FORGET_MS ? INITIAL_LOCKOUT : state;
  const failures = base.failures + 1;
  if (base.level === 0 && failures < LOCKOUT_AFTER_FAILURES) {
    return { state: { ...base, failures, lastFailureMs: nowMs }, engagedMs: 0 };
  }
  const engagedMs = Math.min(LOCKOUT_MAX_MS, LOCKOUT_BASE_MS * 2 ** Math.min(base.level, 20));
  return {
    state: {
      failures: 0,
      level: base.level + 1,
      lockedUntilMs: nowMs + engagedMs,
      lastFailureMs: nowMs,
    },
    engagedMs,
  };
}

/** The state after the right secret: everything forgotten. */
export function recordSuccess(): LockoutState {
  return INITIAL_LOCKOUT;
}
