import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SCHEDULE,
  backoffDelayMs,
  networkAnnounceAtMs,
  periodicDelayMs,
  randomFraction,
  renewDelayMs,
  retryDelayMs,
  unansweredDelayMs,
  type RandomBytes,
} from './schedule.ts';

const DAY_MS = 86_400_000;

function constant(byte: number): RandomBytes {
  return (n) => new Uint8Array(n).fill(byte);
}

function bytesSource(bytes: Uint8Array): RandomBytes {
  return (n) => bytes.slice(0, n);
}

const sixBytes = fc.uint8Array({ minLength: 6, maxLength: 6 });

test('randomFraction() maps 6 bytes into [0, 1) and refuses a short source', () => {
  assert.equal(randomFraction(constant(0)), 0);
  assert.equal(randomFraction(constant(0xff)), (2 ** 48 - 1) / 2 ** 48);
  assert.equal(randomFraction(bytesSource(Uint8Array.of(0x80, 0, 0, 0, 0, 0))), 0.5);
  assert.throws(() => randomFraction(() => new Uint8Array(5)), RangeError);
});

test('backoffDelayMs() stays within [0, min(cap, base · 2^attempt)] (full jitter)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 80 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 1, max: 100_000_000 }),
      sixBytes,
      (attempt, baseMs, capMs, bytes) => {
        const delay = backoffDelayMs(attempt, { baseMs, capMs, random: bytesSource(bytes) });
        const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
        return Number.isInteger(delay) && delay >= 0 && delay <= ceiling;
      },
    ),
    { numRuns: 2_000 },
  );
  // The extremes of the random source reach both ends of the interval.
  assert.equal(backoffDelayMs(3, { baseMs: 1_000, capMs: 60_000, random: constant(0) }), 0);
  assert.equal(backoffDelayMs(3, { baseMs: 1_000, capMs: 60_000, random: constant(0xff) }), 8_000);
  assert.equal(
    backoffDelayMs(30, { baseMs: 1_000, capMs: 60_000, random: constant(0xff) }),
    60_000,
  );
  assert.throws(() => backoffDelayMs(-1, { baseMs: 1, capMs: 1, random: constant(0) }), RangeError);
});

test('periodicDelayMs() is 30 days ± 3 days', () => {
  fc.assert(
    fc.property(sixBytes, (bytes) => {
      const delay = periodicDelayMs(bytesSource(bytes));
      return delay >= 27 * DAY_MS && delay <= 33 * DAY_MS;
    }),
    { numRuns: 2_000 },
  );
  assert.equal(periodicDelayMs(constant(0)), 27 * DAY_MS);
  assert.equal(periodicDelayMs(constant(0xff)), 33 * DAY_MS);
});

test('retryDelayMs() keeps every retry of a window inside the 30 s answer window', () => {
  assert.deepEqual(
    [1, 2, 3].map((a) => retryDelayMs(a, constant(0xff))),
    [2_000, 4_000, 8_000],
  );
  const worst = [1, 2, 3].reduce((sum, a) => sum + retryDelayMs(a, constant(0xff)), 0);
  assert.ok(worst < 30_000, `${worst} ms`);
  assert.equal(SCHEDULE.maxAttempts, 4);
});

test('unansweredDelayMs() doubles from 1 min to a 6 h cap', () => {
  assert.deepEqual(
    [1, 2, 3, 9, 10, 50].map((n) => unansweredDelayMs(n, constant(0xff))),
    [60_000, 120_000, 240_000, 256 * 60_000, 6 * 3_600_000, 6 * 3_600_000],
  );
  assert.equal(unansweredDelayMs(5, constant(0)), 0);
});

test('renewDelayMs() is a third of the FAIL lifetime left, within [5 min, 1 day]', () => {
  assert.equal(renewDelayMs(3 * 3_600_000), 3_600_000);
  assert.equal(renewDelayMs(7 * DAY_MS), DAY_MS);
  assert.equal(renewDelayMs(60_000), 5 * 60_000);
  assert.equal(renewDelayMs(-5), 5 * 60_000);
});

test('networkAnnounceAtMs() waits 2..5 s and at least 5 min after the last network exchange', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e12 }), sixBytes, (nowMs, bytes) => {
      const at = networkAnnounceAtMs(nowMs, undefined, bytesSource(bytes));
      return at >= nowMs + 2_000 && at <= nowMs + 5_000;
    }),
  );
  assert.equal(networkAnnounceAtMs(1_000_000, 900_000, constant(0)), 900_000 + 300_000);
  assert.equal(networkAnnounceAtMs(1_000_000, 0, constant(0)), 1_002_000);
});
