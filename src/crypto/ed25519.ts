/**
 * Ed25519 (RFC 8032) through node:crypto, with `KeyObject`s imported once and cached in the key
 * values (re-importing per call is ~14x slower here). Bytes in, bytes out.
 * @module
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { sha256 } from './hash.ts';

/** Raw Ed25519 public key size in bytes (RFC 8032 §5.1.5). */
export const PUBLIC_KEY_BYTES = 32;
/** Ed25519 private key (seed) size in bytes (RFC 8032 §5.1.5). */
export const SEED_BYTES = 32;
/** Ed25519 signature size in bytes (RFC 8032 §5.1.6: R || S). */
export const SIGNATURE_BYTES = 64;
/** Key identifier size: the first 8 bytes of SHA-256 over the raw public key. */
export const KID_BYTES = 8;

// DER prefixes that wrap a raw key into SPKI (RFC 8410 §4) and PKCS#8 (RFC 8410 §7).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A verified-importable Ed25519 public key with its identifier and cached `KeyObject`. */
export interface PublicKey {
  readonly raw: Uint8Array;
  readonly kid: Uint8Array;
  readonly keyObject: KeyObject;
}

/** An Ed25519 signing key: its seed, its public half and the cached `KeyObject`. */
export interface PrivateKey {
  readonly seed: Uint8Array;
  readonly publicKey: PublicKey;
  readonly keyObject: KeyObject;
}

// y-coordinates (little-endian, sign bit cleared) of the 8 points of small order: the identity
// (y=1), order 2 (y=p-1), order 4 (y=0) and the two order-8 values. A public key with one of these
// y lets a forger produce signatures valid for many messages ("Taming the many EdDSAs", 2020).
const P = (1n << 255n) - 19n;
const SMALL_ORDER_Y = new Set<bigint>([
  1n,
  P - 1n,
  0n,
  readY(Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex')),
  readY(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')),
]);

function readY(raw: Uint8Array): bigint {
  let y = 0n;
  for (let i = raw.byteLength - 1; i >= 0; i--) y = (y << 8n) | BigInt(raw[i] ?? 0);
  return y & ((1n << 255n) - 1n);
}

/**
 * Why a raw public key is unacceptable, or `undefined` if it is fine: wrong length, a
 * non-canonical y (RFC 8032 §5.1.3: y >= p), or a point of small order.
 */
export function checkPublicKey(raw: Uint8Array): string | undefined {
  if (raw.byteLength !== PUBLIC_KEY_BYTES) {
    return `expected ${PUBLIC_KEY_BYTES} bytes, got ${raw.byteLength}`;
  }
  const y = readY(raw);
  if (y >= P) return 'non-canonical point encoding (y >= p)';
  if (SMALL_ORDER_Y.has(y)) return 'point of small order';
  return undefined;
}

/**
 * The key identifier of a raw public key: SHA-256(raw)[0..8].
 * @example toHex(keyId(publicKey.raw)) // 16 hex digits, printed as the key's fingerprint
 */
export function keyId(raw: Uint8Array): Uint8Array {
  return sha256(raw).subarray(0, KID_BYTES);
}

/**
 * Imports a raw 32-byte public key. Throws `RangeError` when {@link checkPublicKey} refuses it;
 * callers holding wire input check first and raise their own typed error.
 * @example const key = importPublicKey(raw); verify(key, message, signature);
 */
export function importPublicKey(raw: Uint8Array): PublicKey {
  const problem = checkPublicKey(raw);
  if (problem !== undefined) throw new RangeError(`Ed25519 public key: ${problem}`);
  const copy = new Uint8Array(raw);
  const keyObject = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, copy]),
    format: 'der',
    type: 'spki',
  });
  return { raw: copy, kid: keyId(copy), keyObject };
}

/**
 * Imports a 32-byte seed as a signing key.
 * @example const key = importPrivateKey(seed); sign(key, message);
 */
export function importPrivateKey(seed: Uint8Array): PrivateKey {
  if (seed.byteLength !== SEED_BYTES) {
    throw new RangeError(`Ed25519 seed: expected ${SEED_BYTES} bytes, got ${seed.byteLength}`);
  }
  const copy = new Uint8Array(seed);
  const keyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, copy]),
    format: 'der',
    type: 'pkcs8',
  });
  return { seed: copy, publicKey: publicFromPrivate(keyObject), keyObject };
}

/** A fresh key pair from the operating system's CSPRNG. */
export function generatePrivateKey(): PrivateKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.d === undefined) throw new Error('node:crypto exported an Ed25519 key without "d"');
  return importPrivateKey(new Uint8Array(Buffer.from(jwk.d, 'base64url')));
}

function publicFromPrivate(privateKey: KeyObject): PublicKey {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.x === undefined) throw new Error('node:crypto exported an Ed25519 key without "x"');
  return importPublicKey(new Uint8Array(Buffer.from(jwk.x, 'base64url')));
}

/**
 * Ed25519 signature (64 bytes) of `message`.
 * @example const signature = sign(key, message); verify(key.publicKey, message, signature) === true
 */
export function sign(key: PrivateKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, message, key.keyObject));
}

/**
 * True when `signature` is valid for `message` under `key`; false for any bad signature, including
 * a wrong length and S >= L (RFC 8032 §5.1.7). Throws only on misuse (not a PublicKey).
 * @example verify(key, message, signature)
 */
export function verify(key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== SIGNATURE_BYTES) return false;
  return nodeVerify(null, message, key.keyObject, signature);
}

/** The seed as PKCS#8 PEM (RFC 8410 §7), the private key file format (docs/keys.md). */
export function encodePrivateKeyPem(key: PrivateKey): string {
  return key.keyObject.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The public key as SPKI PEM (RFC 8410 §4), the public key file format (docs/keys.md). */
export function encodePublicKeyPem(key: PublicKey): string {
  return key.keyObject.export({ format: 'pem', type: 'spki' }).toString();
}

/** Reads a PKCS#8 PEM Ed25519 private key; throws `RangeError` naming what is wrong. */
export function decodePrivateKeyPem(pem: string): PrivateKey {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new RangeError('private key: not a PEM PKCS#8 key', { cause: err });
  }
  if (keyObject.asymmetricKeyType !== 'ed25519') {
    throw new RangeError(`private key: expected ed25519, got ${String(keyObject.asymmetricKeyType)}`);
  }
  const jwk = keyObject.export({ format: 'jwk' });
  if (jwk.d === undefined) throw new RangeError('private key: no private component');
  return importPrivateKey(new Uint8Array(Buffer.from(jwk.d, 'base64url')));
}

/** Reads an SPKI PEM Ed25519 public key; throws `RangeError` naming what is wrong. */
export function decodePublicKeyPem(pem: string): PublicKey {
  let keyObject: KeyObject;
  try {
    if (pem.includes('PRIVATE KEY')) throw new RangeError('public key: this is a private key file; give the .pub file');
    keyObject = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    if (err instanceof RangeError) throw err;
    throw new RangeError('public key: not a PEM SPKI key', { cause: err });
  }
  if (keyObject.asymmetricKeyType !== 'ed25519') {
    throw new RangeError(`public key: expected ed25519, got ${String(keyObject.asymmetricKeyType)}`);
  }
  const jwk = keyObject.export({ format: 'jwk' });
  if (jwk.x === undefined) throw new RangeError('public key: no public component');
  return importPublicKey(new Uint8Array(Buffer.from(jwk.x, 'base64url')));
}
