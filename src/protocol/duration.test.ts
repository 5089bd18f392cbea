import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from './duration.ts';

test('parseDuration() reads each unit and descending combinations', () => {
  assert.deepEqual(['7d', '12h', '30m', '45s', '1d12h', '1h30m', ' 2h '].map(parseDuration), [604_800, 43_200, 1_800, 45, 129_600, 5_400, 7_200]);
});

test('parseDuration() refuses other forms, naming the expected syntax', () => {
  for (const bad of ['', '7', 'd', '1w', '1.5h', '-1d', '30m1h', '0s', '7 d']) {
    assert.throws(() => parseDuration(bad), (err: unknown) => err instanceof RangeError && /7d, 12h, 30m, 45s|longer than 0/.test(err.message), bad);
  }
});

test('formatDuration() is the inverse of parseDuration()', () => {
  for (const s of [1, 59, 60, 3_601, 86_400, 604_800, 129_600]) assert.equal(parseDuration(formatDuration(s)), s);
  assert.equal(formatDuration(5_400), '1h30m');
});
