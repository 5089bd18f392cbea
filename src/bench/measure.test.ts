/**
 * Tests of the fixed-time measurement loop, driven by a fake clock.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureCases, type MeasureOptions } from './measure.ts';

/** A clock that advances `costNs` for every call of the operation under test, and 0 otherwise. */
function fakeClockFor(costNs: bigint): { clock: () => bigint; op: () => number } {
  let now = 0n;
  return {
    clock: () => now,
    op: () => {
      now += costNs;
      return 1;
    },
  };
}

function options(clock: () => bigint): MeasureOptions {
  return { clock, warmupNs: 10_000n, runNs: 100_000n, rounds: 3, batchNs: 1_000n };
}

test('measureCases() reports the cost per operation the clock saw', () => {
  const fake = fakeClockFor(250n);
  const [m] = measureCases([{ id: 'x', name: 'x', op: fake.op }], options(fake.clock));
  assert.ok(m !== undefined);
  assert.equal(m.nsPerOp, 250);
  assert.equal(m.opsPerSecond, 4_000_000);
  assert.equal(m.runs.length, 3);
  for (const run of m.runs) assert.ok(run.elapsedNs >= 100_000, 'each round lasts at least runNs');
  assert.ok(m.checksum > 0, 'every returned value is summed');
});

test('measureCases() interleaves rounds across cases', () => {
  const order: string[] = [];
  let now = 0n;
  const clock = (): bigint => now;
  const op = (id: string) => (): number => {
    now += 1_000n;
    if (order.at(-1) !== id) order.push(id);
    return 0;
  };
  measureCases([{ id: 'a', name: 'a', op: op('a') }, { id: 'b', name: 'b', op: op('b') }], options(clock));
  // warm-up a, warm-up b, then three rounds of a, b.
  assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
});

test('measureCases() refuses a round count below 1', () => {
  const fake = fakeClockFor(1n);
  assert.throws(() => measureCases([], { ...options(fake.clock), rounds: 0 }), RangeError);
});
