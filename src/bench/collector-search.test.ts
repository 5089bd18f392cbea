import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, REQUEST_BYTES } from '../protocol/index.ts';
import { DATAGRAMS_PER_MIX, buildMixDatagrams, expectedAnswer } from './collector-mixes.ts';
import { SEARCH_DEFAULTS, searchMaxRate, type StepOutcome } from './collector-search.ts';

/** A server that loses nothing up to `capacity` requests per second and 1 % above. */
function server(capacity: number): (rate: number) => Promise<StepOutcome> {
  return (rate) => Promise.resolve({ rate, lossFraction: rate <= capacity ? 0 : 0.01 });
}

test('searchMaxRate() finds the capacity from below, within the resolution', async () => {
  const result = await searchMaxRate(server(23_456), { ...SEARCH_DEFAULTS, retries: 0 });
  assert.ok(result.maxRate <= 23_456, `${result.maxRate} is above the capacity`);
  assert.ok(result.failedRate !== undefined && result.failedRate > 23_456);
  assert.ok((result.failedRate - result.maxRate) / result.maxRate <= SEARCH_DEFAULTS.resolution);
});

test('searchMaxRate() halves from a failing start and gives 0 below the minimum rate', async () => {
  assert.equal(
    (await searchMaxRate(server(700), { ...SEARCH_DEFAULTS, retries: 0 })).maxRate >= 500,
    true,
  );
  const none = await searchMaxRate(server(10), { ...SEARCH_DEFAULTS, retries: 0 });
  assert.equal(none.maxRate, 0);
  assert.ok(none.steps.every((s) => s.rate >= SEARCH_DEFAULTS.minRate));
});

test('searchMaxRate() runs a failing step again and keeps a passing rerun', async () => {
  const seen = new Set<number>();
  // Every rate fails on its first run (a burst of other work), then passes up to 8,000.
  const flaky = (rate: number): Promise<StepOutcome> => {
    const first = !seen.has(rate);
    seen.add(rate);
    return Promise.resolve({ rate, lossFraction: first || rate > 8_000 ? 0.01 : 0 });
  };
  const result = await searchMaxRate(flaky, { ...SEARCH_DEFAULTS, retries: 1 });
  assert.ok(result.maxRate >= 8_000 * (1 - SEARCH_DEFAULTS.resolution) && result.maxRate <= 8_000);
});

test('buildMixDatagrams() gives 1024 distinct 1232-byte requests, 10 % of fail10 FAIL', () => {
  const bytes = buildMixDatagrams('fail10');
  assert.equal(bytes.byteLength, DATAGRAMS_PER_MIX * REQUEST_BYTES);
  const nonces = new Set<string>();
  let fails = 0;
  for (let i = 0; i < DATAGRAMS_PER_MIX; i++) {
    const { request } = decodeRequest(bytes.subarray(i * REQUEST_BYTES, (i + 1) * REQUEST_BYTES));
    if (request.kind !== 'identified') assert.fail(`request ${i}: ${request.kind}`);
    nonces.add(Buffer.from(request.nonce).toString('hex'));
    if (expectedAnswer('fail10', i) === 'fail') {
      fails++;
      assert.equal(request.swVersion.version, '1.05B03');
    }
  }
  assert.equal(nonces.size, DATAGRAMS_PER_MIX);
  assert.equal(fails, 103);
});

test('isPassing() fails a step that lost nothing but queued: p99 above the bound', async () => {
  const { isPassing, MAX_P99_US } = await import('./collector-search.ts');
  assert.equal(isPassing({ rate: 1, lossFraction: 0, p99Us: MAX_P99_US }), true);
  assert.equal(isPassing({ rate: 1, lossFraction: 0, p99Us: MAX_P99_US + 1 }), false);
  assert.equal(isPassing({ rate: 1, lossFraction: 0.001 }), false);
  assert.equal(isPassing({ rate: 1, lossFraction: 0.0009 }), true);
});
