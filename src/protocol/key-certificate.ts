/**
 * Key certificates (docs/protocol.md §7.1): a registry key binds a collector key to an operator,
 * an address scope and a validity of at most 7 days. Revocation is expiry.
 * @module
 */
import { checkPublicKey, PUBLIC_KEY_BYTES, type PrivateKey } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './cbor.ts';
import { COSE_TYP, decodeSign1, signSign1 } from './cose.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asBytes, asMap, asText, asUint, checkKeys } from './fields.ts';
import { decodePrefix, encodePrefix, type IpPrefix } from './ip.ts';
import { MAX_CERTIFICATE_VALIDITY_SECONDS, MAX_OPERATOR_BYTES, MAX_SCOPE_PREFIXES, WIRE_VERSION } from './limits.ts';
import type { Signed } from './signed.ts';

/** A key certificate's content. Times are seconds since the Unix epoch. */
export interface KeyCertificate {
  /** The certified collector key, raw 32 bytes. */
  readonly subject: Uint8Array;
  readonly operator: string;
  /** Address prefixes of the devices this key may answer. */
  readonly scope: readonly IpPrefix[];
  readonly notBefore: number;
  readonly notAfter: number;
}

const K = { VERSION: 1, SUBJECT: 2, OPERATOR: 3, SCOPE: 4, NOT_BEFORE: 5, NOT_AFTER: 6 } as const;

/** Reads a raw Ed25519 public key field, refusing small-order and non-canonical points. */
export function readPublicKeyField(value: CborValue | undefined, path: string): Uint8Array {
  const raw = asBytes(value, path, { min: PUBLIC_KEY_BYTES, max: PUBLIC_KEY_BYTES });
  const problem = checkPublicKey(raw);
  if (problem !== undefined) throw new ProtocolError('BAD_KEY', `${path}: ${problem}`);
  return raw;
}

/** Encodes a key certificate payload. */
export function encodeKeyCertificatePayload(cert: KeyCertificate): Uint8Array {
  return encodeCbor(
    new Map<CborKey, CborValue>([
      [K.VERSION, WIRE_VERSION],
      [K.SUBJECT, cert.subject],
      [K.OPERATOR, cert.operator],
      [K.SCOPE, cert.scope.map(encodePrefix)],
      [K.NOT_BEFORE, cert.notBefore],
      [K.NOT_AFTER, cert.notAfter],
    ]),
  );
}

/** Decodes and validates a key certificate payload (validity ≤ 7 days, [P-7.1-2]). */
export function decodeKeyCertificatePayload(bytes: Uint8Array): KeyCertificate {
  const path = 'certificate';
  const m = asMap(decodeCbor(bytes), path);
  checkKeys(m, path, { allowed: Object.values(K), required: Object.values(K) });
  if (m.get(K.VERSION) !== WIRE_VERSION) throw new ProtocolError('BAD_VERSION', `${path}.version: expected ${WIRE_VERSION}`);
  const notBefore = asUint(m.get(K.NOT_BEFORE), `${path}.not_before`);
  const notAfter = asUint(m.get(K.NOT_AFTER), `${path}.not_after`);
  if (notAfter <= notBefore || notAfter - notBefore > MAX_CERTIFICATE_VALIDITY_SECONDS) {
    throw new ProtocolError('BAD_VALUE', `${path}.not_after: validity must be 1 s..7 days, got ${notAfter - notBefore} s`);
  }
  return {
    subject: readPublicKeyField(m.get(K.SUBJECT), `${path}.subject`),
    operator: asText(m.get(K.OPERATOR), `${path}.operator`, MAX_OPERATOR_BYTES),
    scope: asArray(m.get(K.SCOPE), `${path}.scope`, { min: 1, max: MAX_SCOPE_PREFIXES }).map((p, i) => decodePrefix(p, `${path}.scope[${i}]`)),
    notBefore,
    notAfter,
  };
}

/** Signs a key certificate with a registry key. */
export function signKeyCertificate(key: PrivateKey, cert: KeyCertificate): CborTag {
  return signSign1(key, { typ: COSE_TYP.KEY_CERTIFICATE, payload: encodeKeyCertificatePayload(cert) });
}

/** Parses a signed key certificate. */
export function readKeyCertificate(value: CborValue): Signed<KeyCertificate> {
  const sign1 = decodeSign1(value, { typ: COSE_TYP.KEY_CERTIFICATE, path: 'certificate' });
  if (!(value instanceof CborTag)) throw new ProtocolError('BAD_TYPE', 'certificate: expected tag 18');
  return { value: decodeKeyCertificatePayload(sign1.payload), sign1, tag: value };
}
