/**
 * Public surface of the crypto layer: Ed25519, SHA-256, byte comparisons, hex.
 * @module
 */
export * from './ed25519.ts';
export * from './hash.ts';
export * from './bytes.ts';
export * from './hex.ts';
