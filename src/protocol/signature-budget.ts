/**
 * The per-answer-window bound on signature verifications (docs/protocol.md §8.6), so a
 * flood of well-formed junk answers cannot burn a device's CPU.
 * @module
 */

/**
 * Signature verifications per answer window: 16. One answer costs at most 3 (verdict or policy,
 * key certificate, feed record or bucket page), so a window still fits 5 complete answers — one
 * per (attempt, destination) of a typical exchange — while 16 Ed25519 verifications cost a small
 * device (~1 ms each on a 500 MHz core) about 16 ms per window, however many datagrams arrive.
 */
export const MAX_SIGNATURE_CHECKS_PER_WINDOW = 16;

/** A mutable counter of signature verifications left in one answer window; make one per window. */
export class SignatureBudget {
  readonly #limit: number;
  #used = 0;

  constructor(limit: number = MAX_SIGNATURE_CHECKS_PER_WINDOW) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`signature budget: expected a non-negative integer, got ${limit}`);
    this.#limit = limit;
  }

  /** Verifications spent so far. */
  get used(): number {
    return this.#used;
  }

  /** Verifications left. */
  get remaining(): number {
    return this.#limit - this.#used;
  }

  /** True when `count` more verifications fit. */
  canAfford(count: number): boolean {
    return this.remaining >= count;
  }

  /** Records one verification; throws `RangeError` if none is left (the caller skipped {@link canAfford}). */
  spend(): void {
    if (this.remaining <= 0) throw new RangeError('signature budget: exhausted');
    this.#used++;
  }
}
