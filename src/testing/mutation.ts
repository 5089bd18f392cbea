/**
 * Hostile-input helpers for property tests: byte mutations of valid encodings (flip, overwrite,
 * insert, delete, truncate) and the check that a decoder refuses input only with ProtocolError.
 * @module
 */
import fc from 'fast-check';
import { isProtocolError } from '../protocol/index.ts';

/** One edit of a byte string; positions are taken modulo the length when applied. */
export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'insert'; readonly at: number; readonly value: number }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'truncate'; readonly at: number };

// Biased towards the start, where headers live: most of a padded request is zero padding.
const position = fc.oneof(fc.nat({ max: 63 }), fc.nat({ max: 511 }), fc.nat({ max: 0xffff }));
const byte = fc.integer({ min: 0, max: 255 });

/** A length-preserving edit (for decoders that refuse every other length up front). */
export const sameLengthMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: position,
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: byte }),
);

/** Any edit, including ones that change the length. */
export const anyMutation: fc.Arbitrary<Mutation> = fc.oneof(
  sameLengthMutation,
  fc.record({ kind: fc.constant('insert' as const), at: position, value: byte }),
  fc.record({ kind: fc.constant('delete' as const), at: position }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
);

/** `bytes` with `mutations` applied in order; the input is not modified. */
export function applyMutations(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const m of mutations) {
    const n = out.byteLength;
    switch (m.kind) {
      case 'flip':
        if (n > 0) out[m.at % n] = (out[m.at % n] ?? 0) ^ (1 << m.bit);
        break;
      case 'set':
        if (n > 0) out[m.at % n] = m.value;
        break;
      case 'insert': {
        const at = m.at % (n + 1);
        const next = new Uint8Array(n + 1);
        next.set(out.subarray(0, at));
        next[at] = m.value;
        next.set(out.subarray(at), at + 1);
        out = next;
        break;
      }
      case 'delete':
        if (n > 0) {
          const at = m.at % n;
          const next = new Uint8Array(n - 1);
          next.set(out.subarray(0, at));
          next.set(out.subarray(at + 1), at);
          out = next;
        }
        break;
      case 'truncate':
        out = out.slice(0, m.at % (n + 1));
        break;
    }
  }
  return out;
}

/**
 * Runs `decode(bytes)` and returns normally when it either returns or throws a ProtocolError;
 * anything else (TypeError, RangeError, a stack overflow) is rethrown so the property fails.
 */
export function assertRefusesOnlyWithProtocolError(
  decode: (bytes: Uint8Array) => unknown,
  bytes: Uint8Array,
): void {
  try {
    decode(bytes);
  } catch (err) {
    if (!isProtocolError(err)) throw err;
  }
}

/** The `code` of the ProtocolError `run` throws, or `undefined` when it returns normally. */
export function protocolErrorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    if (isProtocolError(err)) return err.code;
    throw err;
  }
  return undefined;
}
