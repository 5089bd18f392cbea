/**
 * Hex encoding of byte strings, used by key fingerprints, vectors and the CLI.
 * @module
 */

/** Lower-case hex of `bytes`. @example toHex(new Uint8Array([1, 255])) === '01ff' */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Bytes of an even-length hex string; throws `RangeError` on anything else (hex is never wire input).
 * @example fromHex('01ff') // Uint8Array [1, 255]
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new RangeError(`hex: expected an even number of hex digits, got ${hex.length} characters`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
