/**
 * The device's notion of time (docs/protocol.md §8.3): a persisted floor that only verified
 * signed documents raise, a monotonic lower bound on top of it, and lifetimes timed on the
 * monotonic clock only. Pure: every reading of a clock arrives as an argument.
 * @module
 */

/** Tolerated wall-clock skew for not-before checks: 5 minutes, as in common PKI practice. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** The time floor within one boot: the persisted signed time and the monotonic reading it was set at. */
export interface TimeFloor {
  /** Seconds since the Unix epoch; the largest verified signed time seen. Persist this value. */
  readonly floorSeconds: number;
  /** Monotonic clock reading (ms) when `floorSeconds` was set or loaded in this boot. */
  readonly anchorMonotonicMs: number;
}

/** What the trust rule knows about "now" at one instant. */
export interface TimeView {
  /** A lower bound on the true time: the floor plus monotonic time elapsed since it was set. */
  readonly floorSeconds: number;
  /** The wall clock, only when it is trusted (battery RTC or authenticated sync); else absent. */
  readonly wallSeconds?: number;
}

function assertSeconds(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name}: expected a non-negative integer, got ${value}`);
}

/**
 * The floor at boot: the persisted value, anchored at the current monotonic reading.
 * @example const floor = bootTimeFloor(state.floorSeconds, monotonicMs)
 */
export function bootTimeFloor(persistedSeconds: number, monotonicMs: number): TimeFloor {
  assertSeconds(persistedSeconds, 'persistedSeconds');
  return { floorSeconds: persistedSeconds, anchorMonotonicMs: monotonicMs };
}

/** The lower bound on the true time at `monotonicMs`: time never runs slower than the monotonic clock. */
export function floorAt(floor: TimeFloor, monotonicMs: number): number {
  const elapsedMs = Math.max(0, monotonicMs - floor.anchorMonotonicMs);
  return floor.floorSeconds + Math.floor(elapsedMs / 1000);
}

/**
 * Raises the floor to `signedSeconds` (an issued_at or not_before of a document whose signature
 * verified under a key the current root authorises, [P-8.3-2]); never lowers it.
 */
export function raiseTimeFloor(floor: TimeFloor, update: { signedSeconds: number; monotonicMs: number }): TimeFloor {
  assertSeconds(update.signedSeconds, 'signedSeconds');
  const current = floorAt(floor, update.monotonicMs);
  if (update.signedSeconds <= current) return floor;
  return { floorSeconds: update.signedSeconds, anchorMonotonicMs: update.monotonicMs };
}

/** The time view at `monotonicMs`, with the wall clock only if it is trusted. */
export function timeViewAt(floor: TimeFloor, clocks: { monotonicMs: number; trustedWallSeconds?: number }): TimeView {
  const floorSeconds = floorAt(floor, clocks.monotonicMs);
  return clocks.trustedWallSeconds === undefined ? { floorSeconds } : { floorSeconds, wallSeconds: clocks.trustedWallSeconds };
}

/**
 * The time expiry is judged against ([P-8.3-3]): the later of the floor and the trusted wall
 * clock. Setting the wall clock back never goes below the floor.
 */
export function effectiveNow(view: TimeView): number {
  return Math.max(view.floorSeconds, view.wallSeconds ?? 0);
}

/** Why a validity period does not hold now, or `undefined` when it does. */
export type ValidityProblem = 'EXPIRED' | 'NOT_YET_VALID';

/**
 * Checks `[notBefore, notAfter)` against the view ([P-8.3-3], [P-8.3-4]): expired when
 * notAfter ≤ now; not yet valid only when a trusted wall clock says notBefore is more than the
 * allowed skew ahead (without one, the device cannot tell and does not refuse on that ground).
 */
export function checkValidity(view: TimeView, period: { notBefore: number; notAfter: number }): ValidityProblem | undefined {
  if (period.notAfter <= effectiveNow(view)) return 'EXPIRED';
  if (view.wallSeconds !== undefined && period.notBefore > view.wallSeconds + MAX_CLOCK_SKEW_SECONDS) return 'NOT_YET_VALID';
  return undefined;
}

/** A relative lifetime (verdict, quarantine), timed on the monotonic clock only ([P-8.3-5]). */
export interface Lifetime {
  readonly endsAtMonotonicMs: number;
}

/** Starts a lifetime of `seconds` at the monotonic reading of receipt. */
export function startLifetime(seconds: number, monotonicMs: number): Lifetime {
  assertSeconds(seconds, 'seconds');
  return { endsAtMonotonicMs: monotonicMs + seconds * 1000 };
}

/** True once the lifetime has run out. Wall-clock changes cannot affect this. */
export function isLifetimeOver(lifetime: Lifetime, monotonicMs: number): boolean {
  return monotonicMs >= lifetime.endsAtMonotonicMs;
}

/**
 * Whole seconds left, rounded up: the value to persist at a checkpoint. Across a reboot the
 * lifetime resumes from the last checkpoint, so a reboot can extend it by at most one
 * checkpoint interval and never shortens it ([P-8.3-6]).
 */
export function remainingSeconds(lifetime: Lifetime, monotonicMs: number): number {
  return Math.max(0, Math.ceil((lifetime.endsAtMonotonicMs - monotonicMs) / 1000));
}

/** Resumes a persisted lifetime after boot (the monotonic clock restarted). */
export function resumeLifetime(persistedRemainingSeconds: number, monotonicMs: number): Lifetime {
  return startLifetime(persistedRemainingSeconds, monotonicMs);
}
