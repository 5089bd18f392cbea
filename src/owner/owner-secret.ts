/**
 * The owner secret of the status page: generated at first start, shown once, stored only as a
 * salted scrypt hash (JSON, mode 0600, written atomically). A file shell: the only owner code that
 * touches the secret store.
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** RFC 4648 base32: no 0/1/8/9, so no O-0 or I-1 confusion when the owner types it. */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** 4 groups of 5 characters: 20 × 5 bits = 100 bits, beyond any online or offline guessing. */
export const SECRET_GROUPS = 4;
export const SECRET_GROUP_CHARS = 5;
const SECRET_CHARS = SECRET_GROUPS * SECRET_GROUP_CHARS;

/** scrypt cost: N = 2^14, r = 8 → 128 · N · r = 16 MiB and ~50 ms per check on a small CPU. */
export const SCRYPT_DEFAULTS = Object.freeze({
  N: 16_384,
  r: 8,
  p: 1,
  keyLength: 32,
  saltLength: 16,
});
/** The largest cost a store file may ask for: N = 2^17, r = 8 → 128 MiB (the file is input). */
const MAX_SCRYPT_MEMORY_BYTES = 128 * 1024 * 1024;
/** A store file is ~200 bytes; anything much larger is not ours. */
const MAX_STORE_BYTES = 4096;

/** What the store file holds: the hash and everything needed to recompute it, never the secret. */
export interface SecretHash {
  readonly version: 1;
  readonly algorithm: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** Hex. */
  readonly salt: string;
  /** Hex; its length is the key length. */
  readonly hash: string;
}

/** Codes of {@link OwnerSecretError}. */
export type OwnerSecretErrorCode = 'MISSING' | 'TOO_LARGE' | 'BAD_JSON' | 'BAD_FIELD';

/** The secret store file is missing or not a store this code wrote. The message names the field. */
export class OwnerSecretError extends Error {
  override readonly name = 'OwnerSecretError';
  readonly code: OwnerSecretErrorCode;
  constructor(code: OwnerSecretErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A fresh secret: `ABCDE-FGHIJ-KLMNO-PQRST` (100 random bits).
 * @example generateSecret() // 'Q7MZK-2XWPA-LD4NB-R6TUE'
 */
export function generateSecret(random: (n: number) => Uint8Array = randomBytes): string {
  // 256 is a multiple of 32, so `byte % 32` is uniform.
  const chars = [...random(SECRET_CHARS)].map((byte) => BASE32[byte % 32] ?? '');
  const groups: string[] = [];
  for (let i = 0; i < SECRET_CHARS; i += SECRET_GROUP_CHARS)
    groups.push(chars.slice(i, i + SECRET_GROUP_CHARS).join(''));
  return groups.join('-');
}

/** What the owner typed, in canonical form: upper case, without spaces or dashes. */
export function normaliseSecret(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]/g, '');
}

function scryptAsync(
  secret: string,
  salt: Buffer,
  keyLength: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLength, options, (err, key) => {
      if (err === null) resolve(key);
      else reject(err);
    });
  });
}

function maxmemOf(N: number, r: number): number {
  // Node refuses when 128 · N · r reaches maxmem; leave room for its own bookkeeping.
  return 128 * N * r + 1024 * 1024;
}

/**
 * The store record for `secret` (normalised first), with a fresh salt.
 * @example const record = await hashSecret(generateSecret());
 */
export async function hashSecret(
  secret: string,
  options: { salt?: Uint8Array } = {},
): Promise<SecretHash> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_DEFAULTS;
  const salt = Buffer.from(options.salt ?? randomBytes(saltLength));
  const key = await scryptAsync(normaliseSecret(secret), salt, keyLength, {
    N,
    r,
    p,
    maxmem: maxmemOf(N, r),
  });
  return {
    version: 1,
    algorithm: 'scrypt',
    N,
    r,
    p,
    salt: salt.toString('hex'),
    hash: key.toString('hex'),
  };
}

/**
 * True when `candidate` is the secret `record` was made from; compared in constant time.
 * @example await verifySecret(record, 'q7mzk 2xwpa ld4nb r6tue') // true: case and separators do not matter
 */
export async function verifySecret(record: SecretHash, candidate: string): Promise<boolean> {
  const expected = Buffer.from(record.hash, 'hex');
  const typed = normaliseSecret(candidate);
  const key = await scryptAsync(typed, Buffer.from(record.salt, 'hex'), expected.length, {
    N: record.N,
    r: record.r,
    p: record.p,
    maxmem: maxmemOf(record.N, record.r),
  });
  return timingSafeEqual(key, expected);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(object: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function hexField(
  object: Record<string, unknown>,
  name: string,
  minBytes: number,
  maxBytes: number,
): string {
  const value = field(object, name);
  if (
    typeof value !== 'string' ||
    !/^(?:[0-9a-f]{2})+$/.test(value) ||
    value.length < 2 * minBytes ||
    value.length > 2 * maxBytes
  ) {
    throw new OwnerSecretError(
      'BAD_FIELD',
      `"${name}": expected ${minBytes}–${maxBytes} bytes of lower-case hex`,
    );
  }
  return value;
}

function integerField(
  object: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number {
  const value = field(object, name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OwnerSecretError('BAD_FIELD', `"${name}": expected an integer ${min}–${max}`);
  }
  return value;
}

/** Parses a store file's text; the file is input, so every field and the cost are bounded. */
export function decodeSecretHash(text: string): SecretHash {
  if (text.length > MAX_STORE_BYTES)
    throw new OwnerSecretError('TOO_LARGE', `expected at most ${MAX_STORE_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new OwnerSecretError('BAD_JSON', 'not JSON', { cause: err });
  }
  if (!isRecord(parsed)) throw new OwnerSecretError('BAD_JSON', 'expected an object');
  const object = parsed;
  const known = ['version', 'algorithm', 'N', 'r', 'p', 'salt', 'hash'];
  const unknown = Object.keys(object).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new OwnerSecretError('BAD_FIELD', `"${unknown}": unknown key`);
  if (field(object, 'version') !== 1)
    throw new OwnerSecretError('BAD_FIELD', '"version": expected 1');
  if (field(object, 'algorithm') !== 'scrypt')
    throw new OwnerSecretError('BAD_FIELD', '"algorithm": expected "scrypt"');
  const N = integerField(object, 'N', 1024, 1 << 20);
  if ((N & (N - 1)) !== 0) throw new OwnerSecretError('BAD_FIELD', '"N": expected a power of two');
  const r = integerField(object, 'r', 1, 32);
  const p = integerField(object, 'p', 1, 16);
  if (128 * N * r > MAX_SCRYPT_MEMORY_BYTES)
    throw new OwnerSecretError('BAD_FIELD', `"N", "r": cost over ${MAX_SCRYPT_MEMORY_BYTES} bytes`);
  return {
    version: 1,
    algorithm: 'scrypt',
    N,
    r,
    p,
    salt: hexField(object, 'salt', 16, 64),
    hash: hexField(object, 'hash', 16, 64),
  };
}

/** Writes `text` to a temporary file (mode 0600), fsyncs it, renames it over `path`, fsyncs the directory. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Reads and checks the store at `path`; tightens its mode to 0600 if it was readable by others. */
export async function readSecretHash(path: string): Promise<SecretHash> {
  let text: string;
  try {
    const info = await stat(path);
    if (info.size > MAX_STORE_BYTES)
      throw new OwnerSecretError('TOO_LARGE', `${path}: expected at most ${MAX_STORE_BYTES} bytes`);
    if ((info.mode & 0o077) !== 0) await chmod(path, 0o600);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof OwnerSecretError) throw err;
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      throw new OwnerSecretError('MISSING', `${path}: no owner secret store`, { cause: err });
    }
    throw err;
  }
  return decodeSecretHash(text);
}

/** The owner secret as the page checks it: re-read at every check, so a rotation applies at once. */
export interface OwnerSecretVerifier {
  /** True when `candidate` is the current secret. Rejects when the store cannot be read. */
  verify(candidate: string): Promise<boolean>;
}

/** A verifier over the store at `path`. */
export function secretVerifier(path: string): OwnerSecretVerifier {
  return {
    async verify(candidate) {
      return verifySecret(await readSecretHash(path), candidate);
    },
  };
}

/** The store after {@link openOwnerSecret}: `newSecret` only when it was generated just now. */
export interface OpenedOwnerSecret {
  readonly verifier: OwnerSecretVerifier;
  /** Show this once to the owner (console, label printer); it is written nowhere in clear. */
  readonly newSecret?: string;
}

/**
 * Opens the store at `path`, generating a secret at first start. An existing but unreadable store
 * is an error, never silently replaced (that would hand the page to whoever sees the new secret).
 * @example const { verifier, newSecret } = await openOwnerSecret('/var/lib/tattler/owner-secret.json');
 */
export async function openOwnerSecret(path: string): Promise<OpenedOwnerSecret> {
  try {
    await readSecretHash(path);
    return { verifier: secretVerifier(path) };
  } catch (err) {
    if (!(err instanceof OwnerSecretError && err.code === 'MISSING')) throw err;
  }
  const secret = generateSecret();
  await writeAtomically(path, `${JSON.stringify(await hashSecret(secret))}\n`);
  return { verifier: secretVerifier(path), newSecret: secret };
}

/**
 * Replaces the secret with a fresh one (the owner lost it or it leaked) and returns it, once.
 * @example const secret = await rotateSecret('/var/lib/tattler/owner-secret.json');
 */
export async function rotateSecret(path: string): Promise<string> {
  const secret = generateSecret();
  await writeAtomically(path, `${JSON.stringify(await hashSecret(secret))}\n`);
  return secret;
}
