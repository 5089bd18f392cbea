/**
 * When the device agent announces (docs/agent.md "How the agent decides"): the periodic interval
 * with jitter, retries with exponential backoff and full jitter, the renewal interval while
 * quarantined and the network-change rate limit. Pure: randomness arrives as bytes.
 * @module
 */

/** Random bytes, injected so every schedule is reproducible in tests (the shell passes crypto.randomBytes). */
export type RandomBytes = (byteCount: number) => Uint8Array;

const DAY_MS = 86_400_000;

/** The agent's timing rules; one frozen table so the shell and the docs name the same numbers. */
export const SCHEDULE = Object.freeze({
  /** Re-announce about monthly ([P-3-7] design: "about monthly after"): 30 days … */
  periodicMs: 30 * DAY_MS,
  /** … ± 3 days, uniform, so devices installed on the same day drift apart (10 % of the period). */
  periodicJitterMs: 3 * DAY_MS,
  /** Retries inside one answer window: base of the backoff (attempt 1 waits up to 2 s, 2 up to 4 s, 3 up to 8 s). */
  retryBaseMs: 1_000,
  /** Cap of an in-window retry delay: 8 s, so 3 retries (≤ 2 + 4 + 8 = 14 s) fit the 30 s window. */
  retryCapMs: 8_000,
  /** Attempts per answer window: 1 + 3 retries = 4, the nonce book's bound ([P-8.4-2]). */
  maxAttempts: 4,
  /** After a window closes unanswered, the next exchange waits up to 1 min · 2^(n−1) … */
  unansweredBaseMs: 60_000,
  /** … capped at 6 h: after a regional outage devices spread over hours, not seconds. */
  unansweredCapMs: 6 * 3_600_000,
  /** While quarantined, announce again after a third of the FAIL lifetime left, at least 5 min … */
  renewMinMs: 5 * 60_000,
  /** … and at most 1 day, so a FAIL of 45 days is still renewed or lifted promptly. */
  renewMaxMs: DAY_MS,
  /** After a network change, wait 2 s (DHCP and router advertisements settle, flaps coalesce) … */
  networkSettleMs: 2_000,
  /** … plus up to 3 s of jitter, so devices of one segment coming up together do not send in lockstep. */
  networkJitterMs: 3_000,
  /** At most one network-triggered exchange per 5 min: route flaps and the agent's own changes cannot storm. */
  networkMinIntervalMs: 5 * 60_000,
  /** Persist the remaining quarantine/override lifetime every 15 min: a reboot extends it by at most that ([P-8.3-6]). */
  checkpointMs: 15 * 60_000,
} as const);

/** The timing table's shape (tests may pass a variant). */
export type Schedule = typeof SCHEDULE;

// 48 bits: Number holds them exactly, and 2^-48 resolution is far below a millisecond over 6 h.
const FRACTION_BYTES = 6;
const FRACTION_SCALE = 2 ** 48;

/** A uniform number in [0, 1) from 6 random bytes. Throws `RangeError` if the source returns fewer. */
export function randomFraction(random: RandomBytes): number {
  const bytes = random(FRACTION_BYTES);
  if (bytes.byteLength < FRACTION_BYTES)
    throw new RangeError(`random: expected ${FRACTION_BYTES} bytes, got ${bytes.byteLength}`);
  let value = 0;
  for (let i = 0; i < FRACTION_BYTES; i++) value = value * 256 + (bytes[i] ?? 0);
  return value / FRACTION_SCALE;
}

/** A uniform integer in [0, maxMs]; `maxMs` must be a non-negative safe integer. */
export function uniformMs(maxMs: number, random: RandomBytes): number {
  if (!Number.isSafeInteger(maxMs) || maxMs < 0)
    throw new RangeError(`maxMs: expected a non-negative integer, got ${maxMs}`);
  return Math.floor(randomFraction(random) * (maxMs + 1));
}

/**
 * AWS "full jitter" backoff: a uniform delay in [0, min(cap, base · 2^attempt)] ms. `attempt` ≥ 0.
 * @example backoffDelayMs(3, { baseMs: 1000, capMs: 8000, random }) // somewhere in 0..8000
 */
export function backoffDelayMs(
  attempt: number,
  options: { baseMs: number; capMs: number; random: RandomBytes },
): number {
  if (!Number.isSafeInteger(attempt) || attempt < 0)
    throw new RangeError(`attempt: expected a non-negative integer, got ${attempt}`);
  // 2^attempt overflows nothing before the cap: clamp the exponent at 52.
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 52));
  return uniformMs(Math.floor(ceiling), options.random);
}

/** The delay to the next periodic announcement: period ± jitter, uniform. */
export function periodicDelayMs(random: RandomBytes, schedule: Schedule = SCHEDULE): number {
  return (
    schedule.periodicMs -
    schedule.periodicJitterMs +
    uniformMs(2 * schedule.periodicJitterMs, random)
  );
}

/** The delay before in-window retry `attempt` (1, 2, 3): full jitter over 1 s · 2^attempt, capped. */
export function retryDelayMs(
  attempt: number,
  random: RandomBytes,
  schedule: Schedule = SCHEDULE,
): number {
  return backoffDelayMs(attempt, {
    baseMs: schedule.retryBaseMs,
    capMs: schedule.retryCapMs,
    random,
  });
}

/** The delay before the next exchange after `unanswered` (≥ 1) windows in a row closed without an accepted answer. */
export function unansweredDelayMs(
  unanswered: number,
  random: RandomBytes,
  schedule: Schedule = SCHEDULE,
): number {
  return backoffDelayMs(Math.max(0, unanswered - 1), {
    baseMs: schedule.unansweredBaseMs,
    capMs: schedule.unansweredCapMs,
    random,
  });
}

/** The delay before re-announcing while a FAIL is in force: a third of what is left, within [5 min, 1 day]. */
export function renewDelayMs(remainingMs: number, schedule: Schedule = SCHEDULE): number {
  return Math.min(
    schedule.renewMaxMs,
    Math.max(schedule.renewMinMs, Math.floor(Math.max(0, remainingMs) / 3)),
  );
}

/**
 * When a network change may trigger an exchange: after the settle delay and jitter, and no
 * earlier than the minimum interval after the last network-triggered exchange.
 */
export function networkAnnounceAtMs(
  nowMs: number,
  lastNetworkExchangeMs: number | undefined,
  random: RandomBytes,
  schedule: Schedule = SCHEDULE,
): number {
  const settled = nowMs + schedule.networkSettleMs + uniformMs(schedule.networkJitterMs, random);
  return lastNetworkExchangeMs === undefined
    ? settled
    : Math.max(settled, lastNetworkExchangeMs + schedule.networkMinIntervalMs);
}
