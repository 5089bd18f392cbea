/**
 * Public surface of the wire format v1 (docs/protocol.md): pure codecs, no I/O.
 * @module
 */
export * from './errors.ts';
export * from './limits.ts';
export * from './cbor.ts';
export * from './coap.ts';
export * from './cose.ts';
export * from './fields.ts';
export * from './canonical.ts';
export * from './ip.ts';
export * from './version-range.ts';
export * from './request.ts';
export * from './response.ts';
export * from './signed.ts';
export * from './verdict.ts';
export * from './feed-record.ts';
export * from './bucket.ts';
export * from './policy.ts';
export * from './key-certificate.ts';
export * from './root.ts';
export * from './duration.ts';
export * from './version-compare.ts';
export * from './time-floor.ts';
export * from './nonce-book.ts';
export * from './signature-budget.ts';
export * from './trust-root.ts';
export * from './acceptance.ts';
