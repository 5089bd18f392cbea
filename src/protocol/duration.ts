/**
 * The one duration syntax of Tattler's command line and configuration: `7d`, `12h`, `30m`, `45s`,
 * or a descending combination such as `1d12h`.
 * @module
 */

const UNIT_SECONDS = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;
const DURATION = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/;

/**
 * Seconds of a duration text; throws `RangeError` naming the problem and the expected form.
 * @example parseDuration('7d') === 604800; parseDuration('1h30m') === 5400
 */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (text.trim() === '' || m === null) {
    throw new RangeError(`duration ${JSON.stringify(text)}: expected a number and a unit (d, h, m, s), e.g. 7d, 12h, 30m, 45s or 1d12h`);
  }
  const [, d, h, min, s] = m;
  const seconds =
    Number(d ?? 0) * UNIT_SECONDS.d + Number(h ?? 0) * UNIT_SECONDS.h + Number(min ?? 0) * UNIT_SECONDS.m + Number(s ?? 0) * UNIT_SECONDS.s;
  if (seconds === 0) throw new RangeError(`duration ${JSON.stringify(text)}: must be longer than 0 s`);
  return seconds;
}

/** The shortest text of `seconds` in the same syntax. @example formatDuration(5400) === '1h30m' */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new RangeError(`duration: expected a positive integer of seconds, got ${seconds}`);
  let rest = seconds;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
