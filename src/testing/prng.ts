/**
 * The one seeded PRNG of tests and benchmarks: reproducible data and replayable failures.
 * @module
 */

/** A uniform number in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a small 32-bit PRNG, plenty for benchmark data (not for anything secret).
 * @example createRng(1)() === createRng(1)()
 */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
