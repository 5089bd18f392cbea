import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  INITIAL_LOCKOUT,
  LOCKOUT_FORGET_MS,
  LOCKOUT_MAX_MS,
  lockoutRemainingMs,
  recordFailure,
  recordSuccess,
  type LockoutState,
} from './lockout.ts';

function fail(
  state: LockoutState,
  times: number,
  nowMs: number,
): { state: LockoutState; engagedMs: number } {
  let result = { state, engagedMs: 0 };
  for (let i = 0; i < times; i += 1) result = recordFailure(result.state, nowMs);
  return result;
}

test('recordFailure() locks for 30 s on the 5th wrong secret, not before', () => {
  const four = fail(INITIAL_LOCKOUT, 4, 0);
  assert.equal(four.engagedMs, 0);
  assert.equal(lockoutRemainingMs(four.state, 0), 0);
  const five = recordFailure(four.state, 0);
  assert.equal(five.engagedMs, 30_000);
  assert.equal(lockoutRemainingMs(five.state, 10_000), 20_000);
  assert.equal(lockoutRemainingMs(five.state, 30_000), 0);
});

test('recordFailure() doubles the lockout after each one, up to 1 h', () => {
  let { state } = fail(INITIAL_LOCKOUT, 5, 0);
  let now = 0;
  const lengths: number[] = [];
  for (let i = 0; i < 9; i += 1) {
    now += lockoutRemainingMs(state, now);
    const next = recordFailure(state, now);
    lengths.push(next.engagedMs);
    state = next.state;
  }
  assert.deepEqual(lengths, [
    60_000,
    120_000,
    240_000,
    480_000,
    960_000,
    1_920_000,
    LOCKOUT_MAX_MS,
    LOCKOUT_MAX_MS,
    LOCKOUT_MAX_MS,
  ]);
});

test('recordSuccess() and a quiet day forget past failures', () => {
  const locked = fail(INITIAL_LOCKOUT, 5, 0).state;
  assert.deepEqual(recordSuccess(), INITIAL_LOCKOUT);
  const later = recordFailure(locked, LOCKOUT_FORGET_MS);
  assert.equal(later.engagedMs, 0);
  assert.equal(later.state.failures, 1);
  assert.equal(later.state.level, 0);
});
