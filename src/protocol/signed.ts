/**
 * A signed document as received: its parsed COSE_Sign1, its decoded payload, and the tagged CBOR
 * value that re-encodes to exactly the received bytes (decoding is strict, so it is canonical).
 * @module
 */
import type { CborTag } from './cbor.ts';
import type { Sign1 } from './cose.ts';

/** A document of type `T` inside a COSE_Sign1 whose signature is not yet verified. */
export interface Signed<T> {
  readonly value: T;
  readonly sign1: Sign1;
  /** The tagged COSE_Sign1, for embedding or re-sending unchanged. */
  readonly tag: CborTag;
}
