import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../protocol/index.ts';
import { checkRate, createRateLimiter, prefixKey, RATE_LIMIT_DEFAULTS, type RateDecision } from './rate-limit.ts';

function ip(text: string): Uint8Array {
  const a = parseIp(text);
  assert.ok(a !== undefined, text);
  return a;
}

function run(limiter: ReturnType<typeof createRateLimiter>, address: Uint8Array, nowMs: number, n: number): RateDecision[] {
  return Array.from({ length: n }, () => checkRate(limiter, address, nowMs));
}

test('checkRate() allows a burst, then limits, then refills with the fake clock', () => {
  const limiter = createRateLimiter({ ratePerSecond: 2, burst: 3, slip: 0 });
  const a = ip('192.0.2.10');
  assert.deepEqual(run(limiter, a, 1_000, 5), ['allow', 'allow', 'allow', 'drop', 'drop']);
  // 2 tokens per second: 499 ms is not yet one token, 500 ms is.
  assert.equal(checkRate(limiter, a, 1_499), 'drop');
  assert.equal(checkRate(limiter, a, 1_500), 'allow');
  assert.equal(checkRate(limiter, a, 1_500), 'drop');
  // A long quiet spell refills only up to the burst.
  assert.deepEqual(run(limiter, a, 100_000, 4), ['allow', 'allow', 'allow', 'drop']);
});

test('checkRate() slips every Nth limited request of a prefix', () => {
  const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, slip: 3 });
  const a = ip('2001:db8:1::7');
  assert.deepEqual(run(limiter, a, 0, 8), ['allow', 'drop', 'drop', 'slip', 'drop', 'drop', 'slip', 'drop']);
  // An allowed request resets the count.
  assert.equal(checkRate(limiter, a, 1_000), 'allow');
  assert.deepEqual(run(limiter, a, 1_000, 3), ['drop', 'drop', 'slip']);
});

test('checkRate() groups IPv4 by /24 and IPv6 by /56 by default', () => {
  const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, slip: 0 });
  assert.equal(checkRate(limiter, ip('192.0.2.1'), 0), 'allow');
  assert.equal(checkRate(limiter, ip('192.0.2.254'), 0), 'drop');
  assert.equal(checkRate(limiter, ip('192.0.3.1'), 0), 'allow');
  assert.equal(checkRate(limiter, ip('2001:db8:1:ff::1'), 0), 'allow');
  assert.equal(checkRate(limiter, ip('2001:db8:1:1::2'), 0), 'drop'); // same /56: 2001:db8:1:00xx
  assert.equal(checkRate(limiter, ip('2001:db8:1:100::1'), 0), 'allow'); // next /56
  assert.equal(limiter.size, 4);
});

test('prefixKey() masks partial bytes and honours configured lengths', () => {
  const options = { ...RATE_LIMIT_DEFAULTS, ipv4PrefixLength: 20, ipv6PrefixLength: 60 };
  assert.equal(prefixKey(ip('192.0.31.1'), options), prefixKey(ip('192.0.16.200'), options));
  assert.notEqual(prefixKey(ip('192.0.32.1'), options), prefixKey(ip('192.0.16.1'), options));
  assert.equal(prefixKey(ip('2001:db8:1:f::1'), options), prefixKey(ip('2001:db8:1:0::1'), options));
  assert.notEqual(prefixKey(ip('2001:db8:1:10::1'), options), prefixKey(ip('2001:db8:1:0::1'), options));
  // Families never collide, even with the same prefix bytes.
  assert.notEqual(prefixKey(ip('0.0.0.0'), options), prefixKey(ip('::'), options));
});

test('checkRate() time going backwards refills nothing', () => {
  const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, slip: 0 });
  const a = ip('198.51.100.1');
  assert.equal(checkRate(limiter, a, 10_000), 'allow');
  assert.equal(checkRate(limiter, a, 0), 'drop');
  assert.equal(checkRate(limiter, a, 10_999), 'drop');
  assert.equal(checkRate(limiter, a, 11_000), 'allow');
});

test('checkRate() table never exceeds its bound under 1,000,000 spoofed prefixes', () => {
  const limiter = createRateLimiter({ maxEntries: 65_536 });
  const address = new Uint8Array(16);
  let max = 0;
  for (let i = 0; i < 1_000_000; i++) {
    // A distinct /56 each time: bytes 3..6 count up.
    address[3] = (i >>> 24) & 0xff;
    address[4] = (i >>> 16) & 0xff;
    address[5] = (i >>> 8) & 0xff;
    address[6] = i & 0xff;
    assert.equal(checkRate(limiter, address, i), 'allow');
    if (limiter.size > max) max = limiter.size;
  }
  assert.equal(max, 65_536);
  assert.equal(limiter.size, 65_536);
});

test('checkRate() evicts the least recently seen prefix, keeping active ones', () => {
  const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, slip: 0, maxEntries: 3 });
  const [a, b, c, d] = ['192.0.2.1', '198.51.100.1', '203.0.113.1', '10.0.0.1'].map(ip);
  assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined);
  checkRate(limiter, a, 0);
  checkRate(limiter, b, 0);
  checkRate(limiter, c, 0);
  assert.equal(checkRate(limiter, a, 0), 'drop'); // a is now the most recent
  checkRate(limiter, d, 0); // evicts b, the least recently seen
  assert.equal(limiter.size, 3);
  assert.equal(checkRate(limiter, a, 0), 'drop'); // still tracked: still limited
  assert.equal(checkRate(limiter, b, 0), 'allow'); // forgotten: a fresh bucket (evicts c)
});

test('createRateLimiter() refuses unusable options', () => {
  assert.throws(() => createRateLimiter({ ratePerSecond: 0 }), RangeError);
  assert.throws(() => createRateLimiter({ burst: -1 }), RangeError);
  assert.throws(() => createRateLimiter({ maxEntries: 0 }), RangeError);
  assert.throws(() => createRateLimiter({ slip: 1.5 }), RangeError);
  assert.throws(() => createRateLimiter({ ipv4PrefixLength: 33 }), RangeError);
  assert.throws(() => createRateLimiter({ ipv6PrefixLength: 129 }), RangeError);
  assert.throws(() => createRateLimiter({ retryAfterSeconds: 0 }), RangeError);
});
