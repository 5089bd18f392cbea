/**
 * The only CBOR codec of the project (RFC 8949), for the subset Tattler uses: integers within
 * ±(2^53−1), byte and text strings, arrays, maps with integer or text keys, false/true/null and a
 * few tags. Encoding is deterministic by construction (RFC 8949 §4.2.1: preferred argument sizes,
 * definite lengths, map keys sorted bytewise); decoding is strict and accepts only that encoding,
 * so one value has exactly one accepted byte string (no parser differentials between peers).
 * @module
 */
import { compareBytes } from '../crypto/index.ts';
import { ProtocolError } from './errors.ts';

/** A decoded or to-be-encoded CBOR data item of the Tattler subset. */
export type CborValue =
  | number
  | string
  | Uint8Array
  | boolean
  | null
  | readonly CborValue[]
  | CborMap
  | CborTag;

/** A CBOR map; keys are integers or text strings. */
export type CborMap = ReadonlyMap<CborKey, CborValue>;

/** A map key of the Tattler subset. */
export type CborKey = number | string;

/** A tagged data item (RFC 8949 §3.4). */
export class CborTag {
  readonly tag: number;
  readonly value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

/** Tags the decoder accepts: COSE_Sign1 and COSE_Sign (RFC 9052 §2), IPv4/IPv6 prefixes (RFC 9164). */
export const CBOR_TAG = { COSE_SIGN1: 18, COSE_SIGN: 98, IPV4: 52, IPV6: 54 } as const;
const ALLOWED_TAGS = new Set<number>(Object.values(CBOR_TAG));

/** Decoder limits; every decoded document is also bounded by its datagram. */
export interface CborLimits {
  /** Maximum nesting of arrays, maps and tags. */
  readonly maxDepth: number;
  /** Maximum number of elements in one array or pairs in one map. */
  readonly maxItems: number;
  /**
   * Return byte strings as views into the input instead of copies. Only for callers that copy
   * what they keep (decodeRequest: the ~950-byte pad copy was half its cost).
   */
  readonly viewByteStrings?: boolean;
}

/**
 * Default limits: the deepest Tattler structure nests 5 levels (response array → COSE_Sign1 →
 * unprotected map → …), so 8 leaves headroom; 1232 bytes cannot hold more than 1232 items anyway.
 */
export const CBOR_DEFAULTS: CborLimits = Object.freeze({ maxDepth: 8, maxItems: 1232 });

const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const textEncoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Encoding

/** Growable output buffer for the encoder. */
class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  reset(): void {
    this.#len = 0;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  head(major: number, argument: number): void {
    const m = major << 5;
    if (argument < 24) {
      this.#reserve(1);
      this.#buf[this.#len++] = m | argument;
    } else if (argument < 0x100) {
      this.#reserve(2);
      this.#buf[this.#len++] = m | 24;
      this.#buf[this.#len++] = argument;
    } else if (argument < 0x10000) {
      this.#reserve(3);
      this.#buf[this.#len++] = m | 25;
      this.#view.setUint16(this.#len, argument);
      this.#len += 2;
    } else if (argument < 0x100000000) {
      this.#reserve(5);
      this.#buf[this.#len++] = m | 26;
      this.#view.setUint32(this.#len, argument);
      this.#len += 4;
    } else {
      this.#reserve(9);
      this.#buf[this.#len++] = m | 27;
      this.#view.setBigUint64(this.#len, BigInt(argument));
      this.#len += 8;
    }
  }

  bytes(b: Uint8Array): void {
    this.#reserve(b.byteLength);
    this.#buf.set(b, this.#len);
    this.#len += b.byteLength;
  }

  result(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function encodeInto(w: Writer, value: CborValue): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`CBOR: only safe integers are encodable, got ${value}`);
    }
    if (value >= 0) w.head(0, value);
    else w.head(1, -1 - value);
  } else if (typeof value === 'string') {
    const b = textEncoder.encode(value);
    w.head(3, b.byteLength);
    w.bytes(b);
  } else if (value instanceof Uint8Array) {
    w.head(2, value.byteLength);
    w.bytes(value);
  } else if (typeof value === 'boolean') {
    w.head(7, value ? 21 : 20);
  } else if (value === null) {
    w.head(7, 22);
  } else if (value instanceof CborTag) {
    w.head(6, value.tag);
    encodeInto(w, value.value);
  } else if (value instanceof Map) {
    // RFC 8949 §4.2.1: keys sorted by the bytewise order of their deterministic encodings.
    const entries: [Uint8Array, CborValue][] = [];
    let sorted = true;
    for (const [k, v] of value as CborMap) {
      const key = keyBytes(k);
      const last = entries[entries.length - 1];
      if (last !== undefined && compareBytes(last[0], key) >= 0) sorted = false;
      entries.push([key, v]);
    }
    if (!sorted) {
      entries.sort((a, b) => compareBytes(a[0], b[0]));
      for (let i = 1; i < entries.length; i++) {
        const prev = entries[i - 1];
        const cur = entries[i];
        if (prev !== undefined && cur !== undefined && compareBytes(prev[0], cur[0]) === 0) {
          throw new RangeError('CBOR: duplicate map key');
        }
      }
    }
    w.head(5, entries.length);
    for (const [k, v] of entries) {
      w.bytes(k);
      encodeInto(w, v);
    }
  } else {
    const items = value as readonly CborValue[];
    w.head(4, items.length);
    for (const item of items) encodeInto(w, item);
  }
}

/**
 * Deterministic encoding of `value` (RFC 8949 §4.2.1). Throws `RangeError` for values outside the
 * subset (non-integers, unsafe integers, duplicate keys): that is a bug in the caller.
 * @example toHex(encodeCbor(new Map([[1, 'a']]))) === 'a10161'
 */
export function encodeCbor(value: CborValue): Uint8Array {
  // One scratch buffer for every call: allocating a buffer over 64 bytes costs ~1–2 µs on Node 20
  // (measured by the protocol bench), more than encoding a whole verdict. Not re-entrant, and
  // nothing below calls encodeCbor: map keys come from keyBytes().
  scratch.reset();
  encodeInto(scratch, value);
  return scratch.result();
}

const scratch = new Writer();

// Encoded map keys, memoised: Tattler's maps use a few dozen fixed keys. Bounded so that a caller
// encoding maps with arbitrary text keys cannot grow it: 256 entries of a few bytes each.
const KEY_CACHE = new Map<CborKey, Uint8Array>();
const KEY_CACHE_MAX = 256;

function keyBytes(key: CborKey): Uint8Array {
  const cached = KEY_CACHE.get(key);
  if (cached !== undefined) return cached;
  const w = new Writer();
  encodeInto(w, key);
  const bytes = w.result();
  if (KEY_CACHE.size < KEY_CACHE_MAX) KEY_CACHE.set(key, bytes);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #limits: CborLimits;
  #pos = 0;

  constructor(bytes: Uint8Array, limits: CborLimits) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#limits = limits;
  }

  get position(): number {
    return this.#pos;
  }

  end(): void {
    if (this.#pos !== this.#bytes.byteLength) {
      throw new ProtocolError(
        'TRAILING_BYTES',
        `CBOR: ${this.#bytes.byteLength - this.#pos} bytes after the data item at offset ${this.#pos}`,
      );
    }
  }

  #need(n: number): void {
    if (this.#pos + n > this.#bytes.byteLength) {
      throw new ProtocolError(
        'TRUNCATED',
        `CBOR: need ${n} bytes at offset ${this.#pos}, ${this.#bytes.byteLength - this.#pos} left`,
      );
    }
  }

  #byte(): number {
    this.#need(1);
    return this.#bytes[this.#pos++] ?? 0;
  }

  /** Reads an initial byte and its argument, enforcing preferred (shortest) argument encoding. */
  #head(): { major: number; info: number; argument: number } {
    const at = this.#pos;
    const initial = this.#byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    let argument: number;
    if (info < 24) {
      argument = info;
    } else if (info === 24) {
      argument = this.#byte();
      if (argument < 24) throw nonCanonical(at, 'one-byte argument below 24');
    } else if (info === 25) {
      this.#need(2);
      argument = this.#view.getUint16(this.#pos);
      this.#pos += 2;
      if (argument < 0x100) throw nonCanonical(at, 'two-byte argument below 256');
    } else if (info === 26) {
      this.#need(4);
      argument = this.#view.getUint32(this.#pos);
      this.#pos += 4;
      if (argument < 0x10000) throw nonCanonical(at, 'four-byte argument below 65536');
    } else if (info === 27) {
      this.#need(8);
      const big = this.#view.getBigUint64(this.#pos);
      this.#pos += 8;
      if (big < 0x100000000n) throw nonCanonical(at, 'eight-byte argument below 2^32');
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new ProtocolError('UNSUPPORTED', `CBOR: integer argument above 2^53-1 at offset ${at}`);
      }
      argument = Number(big);
    } else if (info === 31) {
      throw new ProtocolError('UNSUPPORTED', `CBOR: indefinite length or break at offset ${at}`);
    } else {
      throw new ProtocolError('UNSUPPORTED', `CBOR: reserved additional information ${info} at offset ${at}`);
    }
    return { major, info, argument };
  }

  item(depth: number): CborValue {
    const at = this.#pos;
    const initial = this.#bytes[at];
    if (initial !== undefined && initial >= 0xe0) {
      // Major type 7: only false, true and null belong to the subset (no floats, no undefined,
      // no other simple values, no break).
      this.#pos++;
      if (initial === 0xf4) return false;
      if (initial === 0xf5) return true;
      if (initial === 0xf6) return null;
      throw new ProtocolError('UNSUPPORTED', `CBOR: simple value or float (0x${initial.toString(16)}) at offset ${at}`);
    }
    const { major, info, argument } = this.#head();
    switch (major) {
      case 0:
        return argument;
      case 1:
        if (argument >= Number.MAX_SAFE_INTEGER) {
          throw new ProtocolError('UNSUPPORTED', `CBOR: negative integer below -2^53+1 at offset ${at}`);
        }
        return -1 - argument;
      case 2: {
        this.#need(argument);
        // A copy by default: decoded values never alias the datagram, which a caller may reuse.
        const end = this.#pos + argument;
        const out = this.#limits.viewByteStrings === true ? this.#bytes.subarray(this.#pos, end) : this.#bytes.slice(this.#pos, end);
        this.#pos += argument;
        return out;
      }
      case 3: {
        this.#need(argument);
        const raw = this.#bytes.subarray(this.#pos, this.#pos + argument);
        this.#pos += argument;
        try {
          return textDecoder.decode(raw);
        } catch (err) {
          throw new ProtocolError('BAD_VALUE', `CBOR: text string at offset ${at} is not valid UTF-8`, {
            cause: err,
          });
        }
      }
      case 4: {
        this.#enter(depth, argument, at);
        const out: CborValue[] = [];
        for (let i = 0; i < argument; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        this.#enter(depth, argument, at);
        const out = new Map<CborKey, CborValue>();
        let previousStart = -1;
        let previousEnd = -1;
        for (let i = 0; i < argument; i++) {
          const keyStart = this.#pos;
          const key = this.item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') {
            throw new ProtocolError('UNSUPPORTED', `CBOR: map key at offset ${keyStart} is not an integer or text`);
          }
          if (previousStart >= 0) {
            const order = this.#compareRanges(previousStart, previousEnd, keyStart, this.#pos);
            if (order === 0) {
              throw new ProtocolError('DUPLICATE_KEY', `CBOR: duplicate map key ${JSON.stringify(key)} at offset ${keyStart}`);
            }
            if (order > 0) {
              throw nonCanonical(keyStart, `map key ${JSON.stringify(key)} out of order (RFC 8949 §4.2.1)`);
            }
          }
          previousStart = keyStart;
          previousEnd = this.#pos;
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        if (!ALLOWED_TAGS.has(argument)) {
          throw new ProtocolError('UNSUPPORTED', `CBOR: tag ${argument} at offset ${at} is not used by Tattler`);
        }
        this.#enter(depth, 1, at);
        return new CborTag(argument, this.item(depth + 1));
      }
      default:
        throw new ProtocolError('UNSUPPORTED', `CBOR: major type ${major} (info ${info}) at offset ${at}`);
    }
  }

  /** RFC 8949 §4.2.1 order of two encoded keys, compared in place (no views allocated). */
  #compareRanges(aStart: number, aEnd: number, bStart: number, bEnd: number): number {
    const n = Math.min(aEnd - aStart, bEnd - bStart);
    for (let i = 0; i < n; i++) {
      const d = (this.#bytes[aStart + i] ?? 0) - (this.#bytes[bStart + i] ?? 0);
      if (d !== 0) return d;
    }
    return aEnd - aStart - (bEnd - bStart);
  }

  #enter(depth: number, items: number, at: number): void {
    if (depth + 1 > this.#limits.maxDepth) {
      throw new ProtocolError('TOO_DEEP', `CBOR: nesting deeper than ${this.#limits.maxDepth} at offset ${at}`);
    }
    if (items > this.#limits.maxItems) {
      throw new ProtocolError('TOO_LARGE', `CBOR: ${items} items at offset ${at}, at most ${this.#limits.maxItems}`);
    }
  }
}

function nonCanonical(at: number, what: string): ProtocolError {
  return new ProtocolError('NON_CANONICAL', `CBOR: ${what} at offset ${at}`);
}

/**
 * Decodes exactly one data item that must fill `bytes`, in deterministic encoding only. Throws
 * {@link ProtocolError} (TRUNCATED, TRAILING_BYTES, NON_CANONICAL, DUPLICATE_KEY, TOO_DEEP,
 * TOO_LARGE, UNSUPPORTED, BAD_VALUE) and nothing else for any input.
 * @example decodeCbor(fromHex('a10161')) // Map { 1 => 'a' }
 */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = CBOR_DEFAULTS): CborValue {
  const r = new Reader(bytes, limits);
  const value = r.item(0);
  r.end();
  return value;
}
