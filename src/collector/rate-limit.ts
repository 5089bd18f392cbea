/**
 * Per-source-prefix token buckets for the collector ([P-3.5-1]): a bounded table, O(1) per
 * request, time passed in as `nowMs`. "Slip" answers every Nth limited request with a 5.03.
 * @module
 */

/** Rate-limit settings; every field has a default in {@link RATE_LIMIT_DEFAULTS}. */
export interface RateLimitOptions {
  /** Tokens added per second to a prefix's bucket (sustained requests per second). */
  readonly ratePerSecond: number;
  /** Bucket size: requests a quiet prefix may send at once. */
  readonly burst: number;
  /** Source prefix length for IPv4 addresses (bits). */
  readonly ipv4PrefixLength: number;
  /** Source prefix length for IPv6 addresses (bits). */
  readonly ipv6PrefixLength: number;
  /** Most prefixes tracked at once; the least recently seen is evicted beyond it. */
  readonly maxEntries: number;
  /** Every `slip`-th limited request of a prefix gets a 5.03 back-off answer; 0: never. */
  readonly slip: number;
  /** Max-Age of the 5.03 answer: seconds before the device may retry. */
  readonly retryAfterSeconds: number;
}

/**
 * Defaults, after DNS RRL (BIND/NSD/Knot): /24 and /56 group a customer's addresses (one IPv4
 * NAT range, one IPv6 delegated prefix); 10/s with a burst of 20 is far above what devices send
 * (one announcement on boot, join and about monthly) and caps a reflected flood per prefix.
 */
export const RATE_LIMIT_DEFAULTS: RateLimitOptions = Object.freeze({
  ratePerSecond: 10,
  burst: 20,
  ipv4PrefixLength: 24,
  ipv6PrefixLength: 56,
  maxEntries: 65_536,
  slip: 2,
  retryAfterSeconds: 60,
});

/** What to do with one request: serve it, answer 5.03 (slip), or drop it silently. */
export type RateDecision = 'allow' | 'slip' | 'drop';

function assertOptions(options: RateLimitOptions): void {
  const positive = (name: string, value: number): void => {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`rate limit ${name}: expected a positive number, got ${value}`);
  };
  positive('ratePerSecond', options.ratePerSecond);
  positive('burst', options.burst);
  if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError(`rate limit maxEntries: expected a positive integer, got ${options.maxEntries}`);
  if (!Number.isSafeInteger(options.slip) || options.slip < 0) throw new RangeError(`rate limit slip: expected an integer ≥ 0, got ${options.slip}`);
  if (!Number.isSafeInteger(options.ipv4PrefixLength) || options.ipv4PrefixLength < 0 || options.ipv4PrefixLength > 32) throw new RangeError('rate limit ipv4PrefixLength: expected 0..32');
  if (!Number.isSafeInteger(options.ipv6PrefixLength) || options.ipv6PrefixLength < 0 || options.ipv6PrefixLength > 128) throw new RangeError('rate limit ipv6PrefixLength: expected 0..128');
  if (!Number.isSafeInteger(options.retryAfterSeconds) || options.retryAfterSeconds < 1 || options.retryAfterSeconds > 0xffffffff) throw new RangeError('rate limit retryAfterSeconds: expected 1..2^32−1');
}

/**
 * The table key of an address: family letter and the masked prefix bytes as one-byte chars
 * (`'4'` + 3 chars for /24, `'6'` + 7 chars for /56). Never leaves this module.
 */
export function prefixKey(address: Uint8Array, options: RateLimitOptions): string {
  const bits = address.byteLength === 4 ? options.ipv4PrefixLength : options.ipv6PrefixLength;
  let key = address.byteLength === 4 ? '4' : '6';
  const full = bits >> 3;
  for (let i = 0; i < full; i++) key += String.fromCharCode(address[i] ?? 0);
  const rest = bits & 7;
  if (rest !== 0) key += String.fromCharCode((address[full] ?? 0) & ((0xff << (8 - rest)) & 0xff));
  return key;
}

/**
 * The bounded table of token buckets: a fixed number of slots in typed arrays, a `Map` from
 * prefix key to slot, and a doubly linked recency list through the slots, so that finding,
 * refreshing and evicting the least recently seen prefix are each O(1) (iterating a `Map` from
 * its front would not be: V8 leaves deleted entries there until the next rehash).
 *
 * Memory for the default 65,536 slots, fixed whatever a spoofed flood sends:
 * - typed arrays, allocated up front: 65,536 × (8 tokens + 8 lastMs + 4 limited + 4 + 4 links)
 *   = 65,536 × 28 B ≈ 1.8 MB;
 * - keys: a 2..17-character one-byte string per slot, ~32 B, plus an 8 B array slot ≈ 2.6 MB;
 * - the `Map`: ~3 words per entry plus its hash table, ~40 B ≈ 2.6 MB;
 * so ≤ ~7 MB in all. Eviction lets a flood push a real prefix out, which then starts with a full
 * bucket again: a flood can only loosen the limit for a prefix, never block a device.
 */
export class RateLimiter {
  readonly options: RateLimitOptions;
  readonly #slots = new Map<string, number>();
  readonly #keys: (string | undefined)[];
  readonly #tokens: Float64Array;
  readonly #lastMs: Float64Array;
  readonly #limited: Uint32Array;
  /** Recency list: `#newer[s]` is the slot seen just after `s`, −1 at the newest end. */
  readonly #newer: Int32Array;
  readonly #older: Int32Array;
  #newest = -1;
  #oldest = -1;
  #used = 0;

  constructor(options: RateLimitOptions) {
    assertOptions(options);
    this.options = Object.freeze({ ...options });
    const n = options.maxEntries;
    this.#keys = new Array<string | undefined>(n).fill(undefined);
    this.#tokens = new Float64Array(n);
    this.#lastMs = new Float64Array(n);
    this.#limited = new Uint32Array(n);
    this.#newer = new Int32Array(n).fill(-1);
    this.#older = new Int32Array(n).fill(-1);
  }

  /** Prefixes tracked now; never more than `options.maxEntries`. */
  get size(): number {
    return this.#slots.size;
  }

  #unlink(slot: number): void {
    const newer = this.#newer[slot] ?? -1;
    const older = this.#older[slot] ?? -1;
    if (newer === -1) this.#newest = older;
    else this.#older[newer] = older;
    if (older === -1) this.#oldest = newer;
    else this.#newer[older] = newer;
  }

  #pushNewest(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = -1;
    if (this.#newest !== -1) this.#newer[this.#newest] = slot;
    this.#newest = slot;
    if (this.#oldest === -1) this.#oldest = slot;
  }

  /** A slot for a new prefix: an unused one, else the least recently seen one, evicted. */
  #claim(key: string, nowMs: number): number {
    let slot: number;
    if (this.#used < this.options.maxEntries) {
      slot = this.#used++;
    } else {
      slot = this.#oldest;
      this.#unlink(slot);
      const old = this.#keys[slot];
      if (old !== undefined) this.#slots.delete(old);
    }
    this.#keys[slot] = key;
    this.#slots.set(key, slot);
    this.#tokens[slot] = this.options.burst;
    this.#lastMs[slot] = nowMs;
    this.#limited[slot] = 0;
    this.#pushNewest(slot);
    return slot;
  }

  /** Charges one request from `address` at `nowMs`; see {@link checkRate}. */
  check(address: Uint8Array, nowMs: number): RateDecision {
    const { options } = this;
    const key = prefixKey(address, options);
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#claim(key, nowMs);
    } else {
      this.#unlink(slot);
      this.#pushNewest(slot);
      const last = this.#lastMs[slot] ?? nowMs;
      const elapsedMs = Math.max(0, nowMs - last);
      this.#tokens[slot] = Math.min(options.burst, (this.#tokens[slot] ?? 0) + (elapsedMs * options.ratePerSecond) / 1000);
      this.#lastMs[slot] = Math.max(last, nowMs);
    }
    const tokens = this.#tokens[slot] ?? 0;
    if (tokens >= 1) {
      this.#tokens[slot] = tokens - 1;
      this.#limited[slot] = 0;
      return 'allow';
    }
    const limited = (this.#limited[slot] ?? 0) + 1;
    this.#limited[slot] = limited;
    if (options.slip > 0 && limited % options.slip === 0) return 'slip';
    return 'drop';
  }
}

/** A new, empty rate limiter; throws `RangeError` on bad options (a configuration bug). */
export function createRateLimiter(options: Partial<RateLimitOptions> = {}): RateLimiter {
  return new RateLimiter({ ...RATE_LIMIT_DEFAULTS, ...options });
}

/**
 * Charges one request from `address` at `nowMs` and says what to do with it. Mutates only the
 * limiter; O(1). Time going backwards refills nothing.
 * @example if (checkRate(limiter, source, nowMs) === 'slip') reply503();
 */
export function checkRate(limiter: RateLimiter, address: Uint8Array, nowMs: number): RateDecision {
  return limiter.check(address, nowMs);
}
