/**
 * The one error type for untrusted wire input, with a closed set of codes (docs/errors.md).
 * @module
 */

/** Every reason a datagram, document or key can be refused; callers switch on these codes. */
export const PROTOCOL_ERROR_CODES = [
  'TOO_LARGE',
  'BAD_LENGTH',
  'TRUNCATED',
  'TRAILING_BYTES',
  'BAD_COAP',
  'BAD_VERSION',
  'NON_CANONICAL',
  'DUPLICATE_KEY',
  'TOO_DEEP',
  'UNSUPPORTED',
  'BAD_TYPE',
  'MISSING_FIELD',
  'UNKNOWN_KEY',
  'BAD_VALUE',
  'BAD_ALG',
  'BAD_TYP',
  'BAD_SIGNATURE',
  'BAD_KEY',
] as const;

/** A code from {@link PROTOCOL_ERROR_CODES}. */
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/**
 * Untrusted input was refused. The message names the field, what was expected and what arrived;
 * it never contains keys or whole payloads. Peers only ever see the code, never the message.
 * @example
 * try { decodeRequest(bytes); } catch (err) { if (err instanceof ProtocolError) count(err.code); }
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True when `value` is a {@link ProtocolError}. */
export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
