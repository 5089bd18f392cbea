import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootTimeFloor, checkValidity, effectiveNow, floorAt, raiseTimeFloor, timeViewAt } from './time-floor.ts';

const T = 1_700_000_000;

test('raiseTimeFloor() only raises, and the floor grows with the monotonic clock', () => {
  const boot = bootTimeFloor(T, 1_000);
  assert.equal(floorAt(boot, 61_000), T + 60);
  assert.equal(raiseTimeFloor(boot, { signedSeconds: T - 100, monotonicMs: 2_000 }), boot);
  const raised = raiseTimeFloor(boot, { signedSeconds: T + 3_600, monotonicMs: 2_000 });
  assert.equal(floorAt(raised, 2_000), T + 3_600);
  assert.equal(floorAt(raised, 1_000), T + 3_600);
});

test('checkValidity(): a wall clock set back cannot revive, one set forward only expires; no RTC never says not-yet-valid', () => {
  const period = { notBefore: T - 100, notAfter: T + 100 };
  const floor = bootTimeFloor(T + 200, 0);
  assert.equal(checkValidity(timeViewAt(floor, { monotonicMs: 0, trustedWallSeconds: T }), period), 'EXPIRED');
  assert.equal(checkValidity(timeViewAt(bootTimeFloor(T - 1_000, 0), { monotonicMs: 0, trustedWallSeconds: T + 1_000 }), period), 'EXPIRED');
  const future = { notBefore: T + 10_000, notAfter: T + 20_000 };
  assert.equal(checkValidity({ floorSeconds: T }, future), undefined);
  assert.equal(checkValidity({ floorSeconds: T, wallSeconds: T }, future), 'NOT_YET_VALID');
  assert.equal(checkValidity({ floorSeconds: T, wallSeconds: T + 9_800 }, future), undefined);
  assert.equal(effectiveNow({ floorSeconds: T, wallSeconds: T - 5 }), T);
});
