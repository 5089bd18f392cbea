/**
 * Root documents (docs/protocol.md §7.2): a versioned list of root keys with a threshold and of the
 * keys authorised for the feed and registry roles, signed as a COSE_Sign by several root keys.
 * @module
 */
import { equalBytes, type PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeCoseSign, signCoseSign, type CoseSign } from './cose.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asMap, asUint, checkKeys } from './fields.ts';
import { readPublicKeyField } from './key-certificate.ts';
import { MAX_ROLE_KEYS, MAX_ROOT_BYTES, MAX_ROOT_KEYS, WIRE_VERSION } from './limits.ts';

/** A root document's content. */
export interface Root {
  /** Root version N ≥ 1; N+1 must be signed by the thresholds of N and N+1. */
  readonly version: number;
  readonly threshold: number;
  readonly rootKeys: readonly Uint8Array[];
  readonly feedKeys: readonly Uint8Array[];
  readonly registryKeys: readonly Uint8Array[];
  /** Seconds since the Unix epoch. */
  readonly issuedAt: number;
}

/** A root document as received: content, parsed COSE_Sign and the tagged value. */
export interface SignedRoot {
  readonly value: Root;
  readonly sign: CoseSign;
  readonly tag: CborTag;
}

const K = { FORMAT: 1, VERSION: 2, THRESHOLD: 3, ROOT_KEYS: 4, FEED_KEYS: 5, REGISTRY_KEYS: 6, ISSUED: 7 } as const;

/** Encodes a root payload. */
export function encodeRootPayload(root: Root): Uint8Array {
  return encodeCbor(
    new Map<CborKey, CborValue>([
      [K.FORMAT, WIRE_VERSION],
      [K.VERSION, root.version],
      [K.THRESHOLD, root.threshold],
      [K.ROOT_KEYS, [...root.rootKeys]],
      [K.FEED_KEYS, [...root.feedKeys]],
      [K.REGISTRY_KEYS, [...root.registryKeys]],
      [K.ISSUED, root.issuedAt],
    ]),
  );
}

function keyList(value: CborValue | undefined, path: string, max: number): Uint8Array[] {
  const keys = asArray(value, path, { min: 1, max }).map((k, i) => readPublicKeyField(k, `${path}[${i}]`));
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      const a = keys[i];
      const b = keys[j];
      if (a !== undefined && b !== undefined && equalBytes(a, b)) throw new ProtocolError('BAD_VALUE', `${path}: key ${j} repeats key ${i}`);
    }
  }
  return keys;
}

/** Decodes and validates a root payload (1 ≤ threshold ≤ root keys, no repeated key). */
export function decodeRootPayload(bytes: Uint8Array): Root {
  const path = 'root';
  const m = asMap(decodeCbor(bytes), path);
  checkKeys(m, path, { allowed: Object.values(K), required: Object.values(K) });
  if (m.get(K.FORMAT) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.format: expected ${WIRE_VERSION}`);
  const rootKeys = keyList(m.get(K.ROOT_KEYS), `${path}.root_keys`, MAX_ROOT_KEYS);
  return {
    version: asUint(m.get(K.VERSION), `${path}.version`, { min: 1, max: 0xffffffff }),
    threshold: asUint(m.get(K.THRESHOLD), `${path}.threshold`, { min: 1, max: rootKeys.length }),
    rootKeys,
    feedKeys: keyList(m.get(K.FEED_KEYS), `${path}.feed_keys`, MAX_ROLE_KEYS),
    registryKeys: keyList(m.get(K.REGISTRY_KEYS), `${path}.registry_keys`, MAX_ROLE_KEYS),
    issuedAt: asUint(m.get(K.ISSUED), `${path}.issued_at`),
  };
}

/**
 * Signs a root document with `keys` (for a rotation: the signers of both versions). Throws
 * `ProtocolError('TOO_LARGE')` if it would not fit one answer.
 */
export function signRoot(keys: readonly PrivateKey[], root: Root): CborTag {
  const tag = signCoseSign(keys, { typ: COSE_TYP.ROOT, payload: encodeRootPayload(root) });
  const size = encodeCbor(tag).byteLength;
  if (size > MAX_ROOT_BYTES) throw new ProtocolError('TOO_LARGE', `root: ${size} bytes signed, at most ${MAX_ROOT_BYTES}`);
  return tag;
}

/** Parses a signed root document (signatures are checked by the trust rule). */
export function readRoot(value: CborValue): SignedRoot {
  const sign = decodeCoseSign(value, { typ: COSE_TYP.ROOT, path: 'root' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'root: expected tag 98');
  return { value: decodeRootPayload(sign.payload), sign, tag: value };
}
